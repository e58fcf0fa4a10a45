"""Exercise 1, a Dense Flax layer's ``solve``: its seeded cases (:mod:`.cases`), the probes
that read a kernel (:mod:`.probes`), the diagnosis of each case (:mod:`.diagnosis`), the
words for each mistake (:mod:`.feedback`) and the check itself (:mod:`.grader`)."""
