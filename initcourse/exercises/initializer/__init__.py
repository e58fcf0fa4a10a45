"""Exercise 2, ``lecun_normal_init`` by hand: the distribution probes (:mod:`.probes`), the
words for each mistake (:mod:`.feedback`) and the check (:mod:`.grader`)."""
