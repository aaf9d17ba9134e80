"""Videos: faces and plates hidden on every frame, audio kept, metadata dropped."""

from veil.video.pipeline import Progress, VideoRedactor, redact_video

__all__ = ["Progress", "VideoRedactor", "redact_video"]
