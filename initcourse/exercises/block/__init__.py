"""Exercise 3, GPT-2's initialization of a transformer block: the tree's expected layout and
statistics (:mod:`.judge`), the words for each mistake (:mod:`.feedback`) and the check
(:mod:`.grader`)."""
