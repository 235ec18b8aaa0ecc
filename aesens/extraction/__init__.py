"""Stage 2A.1/2A.2: embeddings of original and effected audio, written to HDF5."""
