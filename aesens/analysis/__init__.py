"""Stage 3: CCA directions, their R2 and correlations, desensitisation."""

#: Files shown per UMAP panel by default.
DEFAULT_UMAP_FILES = 5
