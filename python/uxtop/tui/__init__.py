"""The Textual TUI. Renders ``uxtop.snapshot.Snapshot``s only; talks to the engine by commands."""
