"""Jobs as data and rules: the models, the planner, the approval rule, the card and messages,
the timeline as text and every visibility query and state map."""
