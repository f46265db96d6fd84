"""Text handling shared by every filter: normalisation with offsets back to the original text."""
