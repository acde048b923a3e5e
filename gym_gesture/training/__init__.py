"""Making and judging models: recipes, training, evaluation, fusions compared, abstain calibration,
enrollment of new exercises."""
