"""Screens: 1 Overview, 2 Sessions (→ timeline), 3 Pages, 4 Detectors, 5-7 analytics; help."""
