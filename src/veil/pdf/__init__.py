"""PDF redaction: text removed from content streams, image pixels overwritten, and the
document's metadata, annotations, forms, attachments, scripts and hidden layers dropped."""
