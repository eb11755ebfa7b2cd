"""`dmd workers create|remove`: the request, its rendering, the pinned test literals, the plan, the edits."""
