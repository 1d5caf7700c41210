"""Coursework exercises (chapter optimization-exercises): optimisation experiments and image colourisation."""
