"""The review page of a run: ``veil review`` (see ``veil.review.app``)."""
