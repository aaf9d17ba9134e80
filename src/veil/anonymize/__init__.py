"""Operators that hide a region of an image."""

from typing import Annotated

from pydantic import Field

from veil.anonymize.operators import Blur, Fill, Operator, Pixelate
from veil.anonymize.replace import Replace
from veil.anonymize.synthesize import Synthesize

OperatorSpec = Annotated[Fill | Blur | Pixelate | Replace | Synthesize, Field(discriminator="name")]
"""An operator as written in a policy: ``{"name": "blur", "strength": 0.5}``."""

__all__ = ["Blur", "Fill", "Operator", "OperatorSpec", "Pixelate", "Replace", "Synthesize"]
