"""Figures, tables, the summary and the scorecard of every stage."""
