"""Teaching views: the unrolled picture (right and wrong), text coloured by a unit, both
directions of a Bidirectional layer, and batch samples side by side."""
