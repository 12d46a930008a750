"""Quality: vectors of a variant, exact search, metrics under mteb's names, evaluation, bootstrap, raters."""
