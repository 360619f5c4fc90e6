"""One widget per module; each renders from snapshot data only."""
