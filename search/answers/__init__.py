"""Question-driven lookup: question analysis, sentence features, confidence, and the answer finder."""
