"""Recognizers by family: contact, finance, identifiers, dates, names, places, NER."""
