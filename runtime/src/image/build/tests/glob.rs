use crate::image::build::clean::clean;
use crate::image::build::glob::{compile, has_wildcards, matches, matches_prefix};

#[test]
fn go_filepath_match_cases() {
    // Go's filepath.Match tests (the part patternmatcher also runs).
    let cases = [
        ("abc", "abc", true),
        ("*", "abc", true),
        ("*c", "abc", true),
        ("a*", "a", true),
        ("a*", "abc", true),
        ("a*", "ab/c", false),
        ("a*/b", "abc/b", true),
        ("a*/b", "a/c/b", false),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true),
        ("a*b?c*x", "abxbbxdbxebxczzy", false),
        ("ab[c]", "abc", true),
        ("ab[b-d]", "abc", true),
        ("ab[e-g]", "abc", false),
        ("ab[^c]", "abc", false),
        ("ab[^b-d]", "abc", false),
        ("ab[^e-g]", "abc", true),
        ("a\\*b", "a*b", true),
        ("a\\*b", "ab", false),
        ("a?b", "a☺b", true),
        ("a[^a]b", "a☺b", true),
        ("a???b", "a☺b", false),
        ("a[^a][^a][^a]b", "a☺b", false),
        ("[a-ζ]*", "α", true),
        ("*[a-ζ]", "A", false),
        ("a?b", "a/b", false),
        ("a*b", "a/b", false),
        ("[\\]a]", "]", true),
        ("[\\-]", "-", true),
        ("[x\\-]", "x", true),
        ("[x\\-]", "-", true),
        ("[x\\-]", "z", false),
        ("[\\-x]", "x", true),
        ("[\\-x]", "-", true),
        ("[\\-x]", "a", false),
        ("*x", "xxx", true),
        // `!` does not negate in Go (nor in Docker): it is a plain member.
        ("[!a]", "!", true),
        ("[!a]", "b", false),
    ];
    for (pattern, text, want) in cases {
        let tokens = compile(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        assert_eq!(matches(&tokens, text), want, "{pattern:?} vs {text:?}");
    }
}

#[test]
fn go_filepath_match_bad_patterns() {
    for pattern in [
        "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[",
    ] {
        assert!(compile(pattern).is_err(), "{pattern:?} should be refused");
    }
    let reason = compile("a[bc").unwrap_err();
    assert!(reason.contains("not closed with ']'"), "{reason}");
}

#[test]
fn prefix_matching_says_whether_a_completion_could_match() {
    let cases = [
        ("a/*/c", "a/", true),
        ("a/*/c", "a/b/", true),
        ("a/*/c", "b/", false),
        ("a/b", "a/b/", false),
        ("[a-c]x/y", "bx/", true),
        ("[a-c]x/y", "dx/", false),
    ];
    for (pattern, prefix, want) in cases {
        let tokens = compile(pattern).unwrap();
        assert_eq!(
            matches_prefix(&tokens, prefix),
            want,
            "{pattern:?} {prefix:?}"
        );
    }
}

#[test]
fn wildcards_are_detected_unless_escaped() {
    for (pattern, want) in [
        ("a.txt", false),
        ("*.txt", true),
        ("a?", true),
        ("[ab]", true),
        ("a\\*b", false),
        ("dir/sub/file", false),
    ] {
        assert_eq!(has_wildcards(pattern), want, "{pattern:?}");
    }
}

#[test]
fn clean_follows_go() {
    let cases = [
        ("", "."),
        (".", "."),
        ("abc", "abc"),
        ("abc/", "abc"),
        ("a//b", "a/b"),
        ("./a", "a"),
        ("a/./b", "a/b"),
        ("a/../b", "b"),
        ("a/..", "."),
        ("../a", "../a"),
        ("../../a/..", "../.."),
        ("/", "/"),
        ("/..", "/"),
        ("/../a", "/a"),
        ("//a//", "/a"),
        ("!/x/../y", "!/y"),
    ];
    for (path, want) in cases {
        assert_eq!(clean(path), want, "clean({path:?})");
    }
}
