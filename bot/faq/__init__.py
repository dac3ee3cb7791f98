"""Answers about administrative procedures (thủ tục hành chính): the catalogue import, the
text normalisation and synonym table the search relies on, and the search itself."""
