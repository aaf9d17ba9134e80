"""``veil eval``: measure what a reader or a model can still get out of Veil's outputs.

``residual`` attacks redacted images with independent readers (a second OCR, a face
detector at a very low threshold) and scores them against a corpus manifest; ``vlm``
sends probes with planted fake values to an OpenAI-compatible model, with and without
the Veil gateway in front. Modules load their heavy dependencies on first use.
"""
