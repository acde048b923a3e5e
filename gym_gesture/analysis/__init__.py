"""What a clip's window probabilities and keypoints mean (numpy only, no torch): segments, motion,
abstaining and the verdict, reps, form, a live session's sets, the workout summary, and the typed prediction
they fill."""
