"""Making and judging models: recipes, training, evaluation, fusions compared, abstain calibration,
enrolment of new exercises."""
