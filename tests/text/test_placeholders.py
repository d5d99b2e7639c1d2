from tfzoo.text.placeholders import (placeholder_share, placeholders,
                                     placeholders_kept)


def test_kinds_of_placeholder():
    found = placeholders('"%.*s" at %2$s: %lld of %zu, --force [-n] $HOME '
                         "${name} {0} 100%% done")
    assert found == {"%.*s": 1, "%s": 1, "%lld": 1, "%zu": 1, "--force": 1,
                     "-n": 1, "$HOME": 1, "${name}": 1, "{0}": 1}


def test_words_with_hyphens_are_not_options():
    assert not placeholders("a .wgetrc-style command, x-y and %%-expand")


def test_percent_signs_in_prose_are_not_conversions():
    # From the shared corpus: "% of total", "(% used)", "10%-expansion".
    assert not placeholders("50 % of total (% used), 10%-expansion")
    assert placeholders("%-10s|%-*d|%+d") == {"%-10s": 1, "%-*d": 1,
                                              "%+d": 1}


def test_kept_counts_each_and_allows_reordering():
    assert placeholders_kept("%s of %s", "%2$s von %1$s")
    assert not placeholders_kept("%s of %s", "%s von")
    assert not placeholders_kept("use --force", "verwende --forc")
    assert placeholders_kept("no placeholder", "")


def test_share_counts_only_sources_with_placeholders():
    assert placeholder_share(["a %s", "b", "c %d"],
                             ["x %s", "y", "z"]) == (1, 2)
