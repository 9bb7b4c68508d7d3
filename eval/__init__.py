"""Evaluation: eval sets, the runner that scores retrieval and answers, and its reports."""
