"""Stage 4: instrument classification on desensitised embeddings and its results file."""
