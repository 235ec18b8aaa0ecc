"""Command lines: argument types (:mod:`.types`), extraction option groups (:mod:`.options`)."""
