//! Unit tests per directive, method and quirk. The golden suite (`tests/golden`) covers
//! whole API Gateway templates.

use crate::*;

fn ctx(body: &str) -> Context {
    Context::with_body(body)
}

/// Renders `src` against `body`, panicking with the error on failure.
fn r(src: &str, body: &str) -> String {
    let t = Template::compile(src).unwrap_or_else(|e| panic!("compile {src:?}: {e}"));
    t.render(&ctx(body))
        .unwrap_or_else(|e| panic!("render {src:?}: {e}"))
}

fn t(src: &str) -> String {
    r(src, "")
}

fn render_err(src: &str, body: &str) -> RenderError {
    let t = Template::compile(src).unwrap_or_else(|e| panic!("compile {src:?}: {e}"));
    t.render(&ctx(body)).expect_err(src)
}

fn compile_err(src: &str) -> VtlError {
    Template::compile(src).expect_err(src)
}

// ---- references --------------------------------------------------------------------------

#[test]
fn undefined_references_render_empty_quiet_or_not() {
    assert_eq!(
        t("a$nope|$!nope|${nope}|$!{nope}|$nope.x.y()|$nope[0]b"),
        "a|||||b"
    );
}

#[test]
fn dollar_signs_that_are_not_references_are_text() {
    assert_eq!(t("$5.00 $ a$ $! ${ $-x $.x"), "$5.00 $ a$ $! ${ $-x $.x");
}

#[test]
fn formal_references_delimit_names() {
    assert_eq!(t("#set($a = 'x')${a}b $a.b ${a}.b"), "xb  x.b");
}

#[test]
fn identifiers_may_contain_hyphens_as_in_velocity_17() {
    assert_eq!(
        r(
            "$input.path('$').partition-key|$first-name",
            r#"{"partition-key":"pk"}"#
        ),
        "pk|"
    );
}

#[test]
fn property_index_and_method_chains() {
    let body = r#"{"a":{"b":[{"c":"x"},{"c":"y"}]}}"#;
    assert_eq!(
        r(
            "#set($o = $input.path('$'))$o.a.b[1].c $o.a.b[-1].c $o['a']['b'][0]['c'] $o.a.b.get(0).c $o.a.b.size()",
            body
        ),
        "y y x x 2"
    );
}

#[test]
fn index_out_of_range_throws_like_java() {
    let e = render_err("#set($l = [1])$l[3]", "");
    assert!(
        matches!(e, RenderError::Method { ref message, line: 1, .. } if message.contains("IndexOutOfBounds")),
        "{e}"
    );
    assert!(matches!(
        render_err("$input.path('$.a').get(5)", r#"{"a":[]}"#),
        RenderError::Method { .. }
    ));
}

#[test]
fn methods_that_do_not_exist_render_empty() {
    assert_eq!(
        t("#set($s = 'abc')[$s.noSuch()][$s.length(1)][$s.substring('x')]"),
        "[][][]"
    );
}

// ---- escapes, comments, unparsed ---------------------------------------------------------

#[test]
fn backslash_escapes_references_and_directives() {
    assert_eq!(
        t("#set($a = 1)\\$a \\\\$a \\$nope \\#if \\#set($a) \\n \\x"),
        "$a \\1 $nope #if #set(1) \\n \\x"
    );
    assert_eq!(t("\\\\\\$a"), "\\$a");
}

#[test]
fn comments_and_unparsed_blocks() {
    assert_eq!(
        t("a## comment\nb#* multi\nline *#c#[[ $raw #if ]]#d"),
        "abc $raw #if d"
    );
    assert_eq!(t("a ## trailing"), "a ");
    assert_eq!(t("x#**#y"), "xy");
}

#[test]
fn hash_signs_that_are_not_directives_are_text() {
    assert_eq!(
        t(r##"{"color": "#fff", "n": "#1", "h": "#", "t": "#{x"}"##),
        r##"{"color": "#fff", "n": "#1", "h": "#", "t": "#{x"}"##
    );
}

// ---- #set --------------------------------------------------------------------------------

#[test]
fn set_assigns_variables_properties_and_indexes() {
    assert_eq!(
        t("#set($m = {})#set($m.a = 1)#set($m['b c'] = 2)#set($l = [1, 2])#set($l[1] = 9)#set($l[-1] = 8)$m $l"),
        "{a=1, b c=2} [1, 8]"
    );
}

#[test]
fn set_with_a_null_value_keeps_the_old_value() {
    // Velocity 1.7 (directive.set.null.allowed=false): the classic loop gotcha.
    let body = r#"[{"v":"a"},{},{"v":"c"}]"#;
    assert_eq!(
        r(
            "#foreach($i in $input.path('$'))#set($v = $i.v)$v,#end",
            body
        ),
        "a,a,c,"
    );
}

#[test]
fn set_shares_maps_and_lists_by_reference() {
    assert_eq!(
        t("#set($a = {})#set($b = $a)#set($d = $b.put('k', 'v'))$a #set($l = [])#set($m = {'l': $l})#set($d = $l.add(1))$m"),
        "{k=v}{l=[1]}"
    );
}

// ---- #if and expressions -----------------------------------------------------------------

#[test]
fn if_elseif_else() {
    let src = "#foreach($x in [1, 2, 3])#if($x == 1)one#elseif($x == 2)two#{else}other#end;#end";
    assert_eq!(t(src), "one;two;other;");
}

#[test]
fn truthiness_is_velocity_17() {
    let src = "#if($nope)a#end#if(false)b#end#if('')c#end#if(0)d#end#if([])e#end#if(true)f#end#if(!$nope)g#end";
    assert_eq!(t(src), "cdefg");
}

#[test]
fn logical_and_comparison_operators() {
    let src = "#set($a = 3)#if($a > 2 && $a < 4)1#end#if($a >= 3 and $a le 3)2#end#if($a gt 5 || $a == 3)3#end\
               #if(not $nope)4#end#if($a != 4 && $a ne 5)5#end#if($a eq 3.0)6#end#if(!($a lt 3))7#end";
    assert_eq!(t(src), "1234567");
}

#[test]
fn equality_compares_printed_forms_across_types() {
    assert_eq!(
        t("#if(1 == '1')a#end#if(true == 'true')b#end#if('a' == 'a')c#end#if([1] == [1])d#end"),
        "abcd"
    );
    assert_eq!(
        t("#if($nope == '')a#end#if($nope == $null)b#end#if('x' == $nope)c#end"),
        "ab"
    );
}

#[test]
fn comparisons_of_non_numbers_are_false() {
    assert_eq!(t("#if('b' > 'a')x#end#if($nope < 1)y#end"), "");
}

#[test]
fn short_circuit_skips_the_right_side() {
    assert_eq!(
        t("#if(false && $x.get(99))a#{else}b#end#if(true || $l[5])c#end"),
        "bc"
    );
}

// ---- arithmetic --------------------------------------------------------------------------

#[test]
fn integer_arithmetic_is_javas() {
    assert_eq!(
        t("#set($a = 7)#set($r = [$a / 2, -7 / 2, -7 % 3, 7 % -3, $a * 3 - 1, 2 + 3 * 4, (2 + 3) * 4, $a/2])$r"),
        "[3, -3, -1, 1, 20, 14, 20, 3]"
    );
}

#[test]
fn float_arithmetic_prints_like_java_doubles() {
    assert_eq!(
        t("#set($r = [7.0 / 2, 1.5 + 1, 0.1 * 3, 10.0 * 1000000, 2 * 1.0])$r"),
        "[3.5, 2.5, 0.30000000000000004, 1.0E7, 2.0]"
    );
}

#[test]
fn division_by_zero_is_null_and_overflow_widens() {
    assert_eq!(
        t("#set($a = 1 / 0)#set($b = 1 % 0)#set($c = 1.0 / 0)[$a][$b][$c]"),
        "[][][]"
    );
    assert_eq!(
        t("#set($a = 9223372036854775807 + 1)$a"),
        "9.223372036854776E18"
    );
}

#[test]
fn plus_concatenates_when_a_side_is_a_string() {
    assert_eq!(
        t("#set($s = 'a' + 1 + 2)#set($t = 1 + 2 + 'b')#set($u = 'x' + $nope)$s $t $u"),
        "a12 3b x"
    );
}

#[test]
fn arithmetic_on_non_numbers_is_null() {
    assert_eq!(
        t("#set($a = 'a' - 1)#set($b = $nope * 2)#set($c = true + 1)[$a][$b][$c]"),
        "[][][]"
    );
}

// ---- string literals ---------------------------------------------------------------------

#[test]
fn double_quotes_interpolate_single_quotes_do_not() {
    assert_eq!(
        t("#set($n = 'w')#set($a = \"hi $n ${n}s #if(true)y#end\")#set($b = 'hi $n')$a|$b"),
        "hi w ws y|hi $n"
    );
}

#[test]
fn literal_quotes_and_backslashes_follow_velocity_17() {
    assert_eq!(
        t(r#"#set($a = "say ""hi""")#set($b = 'it''s')#set($c = "a\"b\\c\n")$a|$b|$c"#),
        r#"say "hi"|it's|a\"b\\c\n"#
    );
    assert_eq!(t(r#"#set($u = "\u0041\u00e9")$u"#), "Aé");
}

// ---- #foreach ----------------------------------------------------------------------------

#[test]
fn foreach_exposes_loop_state() {
    let src = "#foreach($x in ['a', 'b', 'c'])$foreach.index/$foreach.count/$velocityCount/$foreach.hasNext/$foreach.first/$foreach.last;#end";
    assert_eq!(
        t(src),
        "0/1/1/true/true/false;1/2/2/true/false/false;2/3/3/false/false/true;"
    );
}

#[test]
fn foreach_over_ranges_maps_and_nothing() {
    assert_eq!(t("#foreach($i in [1..3])$i#end #foreach($i in [3..1])$i#end #foreach($i in [0..0])$i#end"), "123 321 0");
    assert_eq!(
        t("#set($n = 2)#foreach($i in [-1..$n])$i,#end"),
        "-1,0,1,2,"
    );
    assert_eq!(t("#foreach($v in {'a': 1, 'b': 2})$v#end"), "12");
    assert_eq!(
        t("[#foreach($v in $nope)x#end][#foreach($v in 'str')x#end]"),
        "[][]"
    );
}

#[test]
fn nested_foreach_parent_and_restore() {
    let src = "#set($x = 'outer')#foreach($x in [1, 2])#foreach($y in ['a', 'b'])$x$y$foreach.parent.index#end#end $x $foreach.index";
    assert_eq!(t(src), "1a01b02a12b1 outer ");
}

#[test]
fn break_leaves_the_innermost_loop() {
    assert_eq!(
        t("#foreach($i in [1..5])#if($i == 3)#break#end$i#end;"),
        "12;"
    );
    assert_eq!(t("#foreach($i in [1, 2])#foreach($j in [1, 2, 3])#if($j == 2)#break($foreach)#end$i$j #end#end"), "11 21 ");
}

#[test]
fn foreach_stops_after_1000_iterations() {
    assert_eq!(
        t("#set($n = 0)#foreach($i in [1..1500])#set($n = $n + 1)#end$n"),
        "1000"
    );
    // hasNext is the iterator's: still true at the 1000th item, as in Velocity.
    assert_eq!(
        t("#foreach($i in [1..1001])#if($foreach.count == 1000)$foreach.hasNext#end#end"),
        "true"
    );
    let lim = Limits {
        max_foreach_iterations: 2,
        ..Limits::default()
    };
    let tpl = Template::compile("#foreach($i in [1..5])$i#end").expect("compiles");
    assert_eq!(tpl.render_full(&ctx(""), &lim).expect("renders").body, "12");
}

#[test]
fn foreach_sees_a_snapshot_of_the_list() {
    assert_eq!(
        t("#set($l = [1, 2])#foreach($i in $l)#set($d = $l.add($i))$i#end $l.size()"),
        "12 4"
    );
}

// ---- #stop, #define, #macro --------------------------------------------------------------

#[test]
fn stop_ends_rendering() {
    assert_eq!(
        t("a#foreach($i in [1..3])$i#if($i == 2)#stop#end#end b"),
        "a12"
    );
    assert_eq!(t("a#break b"), "a");
}

#[test]
fn define_renders_lazily_with_current_values() {
    assert_eq!(
        t("#define($greet)hi $name#end#set($name = 'a')$greet/#set($name = 'b')$greet"),
        "hi a/hi b"
    );
    assert_eq!(
        t("#define($d)x#end#set($s = \"[$d]\")$s $d.length()"),
        "[x] 1"
    );
}

#[test]
fn macros_take_arguments_and_restore_them() {
    let src =
        "#set($a = 'keep')#macro(pair $a $b)<$a:$b>#end#pair('x' 1)#pair(\"y\", [1, 2])#pair()$a";
    assert_eq!(t(src), "<x:1><y:[1, 2]><:>keep");
    // Defined after use: macros are collected at compile time.
    assert_eq!(t("#later(1)#macro(later $x)L$x#end"), "L1");
}

#[test]
fn unknown_macro_calls_print_as_text() {
    assert_eq!(t("a #nosuch($x) b"), "a #nosuch($x) b");
    assert_eq!(t("#hashtag(with words)"), "#hashtag(with words)");
}

#[test]
fn recursion_is_bounded() {
    let e = render_err("#macro(f $n)#f($n)#end#f(1)", "");
    assert!(
        matches!(e, RenderError::RecursionLimit { limit: 20, .. }),
        "{e}"
    );
    let e = render_err("#define($d)$d#end$d", "");
    assert!(matches!(e, RenderError::RecursionLimit { .. }), "{e}");
    // A macro may recurse a bounded number of times.
    assert_eq!(
        t("#macro(down $n)$n#if($n > 0)#set($m = $n - 1)#down($m)#end#end#down(3)"),
        "3210"
    );
}

// ---- whitespace --------------------------------------------------------------------------

#[test]
fn set_eats_leading_blanks_and_its_line_end() {
    assert_eq!(t("a\n    #set($x = 1)\nb$x"), "a\nb1");
    assert_eq!(t("a #set($x = 1) b"), "a b");
    assert_eq!(t("#set($x = 1)  \r\nb"), "b");
}

#[test]
fn block_directives_eat_their_line_end_but_keep_indentation() {
    let src = "{\n  #if(true)\n  \"a\": 1\n  #end\n}";
    assert_eq!(t(src), "{\n    \"a\": 1\n  }");
    let src = "[\n#foreach($i in [1, 2])\n  $i#if($foreach.hasNext),#end\n#end\n]";
    // The `#end` closing `#if` on the item line eats that line's end too.
    assert_eq!(t(src), "[\n  1,  2]");
    assert_eq!(t("#if(false)\nx\n#else  \ny\n#end\nz"), "y\nz");
    assert_eq!(t("#if(true)x#end y"), "x y");
}

#[test]
fn comments_eat_their_line_end_and_macros_too() {
    assert_eq!(t("a\n## note\nb"), "a\nb");
    assert_eq!(t("#macro(m)M#end\n#m()\nx"), "Mx");
    assert_eq!(t("#define($d)\nD\n#end\n$d."), "D\n.");
}

// ---- printing ----------------------------------------------------------------------------

#[test]
fn maps_print_as_java_and_lists_by_origin() {
    let body = r#"{"foo":"bar","l":[{"nested":"bar"}],"s":["a","b"],"n":null,"f":1.50,"t":true}"#;
    assert_eq!(
        r("$input.path('$')", body),
        r#"{foo=bar, l=[{"nested":"bar"}], s=["a","b"], n=null, f=1.5, t=true}"#
    );
    assert_eq!(
        r("$input.path('$.l')|$input.path('$.s')", body),
        r#"[{"nested":"bar"}]|["a","b"]"#
    );
    assert_eq!(
        t("#set($l = ['a', 1, 2.0, true, {'k': 'v'}, [], $nope])$l"),
        "[a, 1, 2.0, true, {k=v}, [], null]"
    );
    assert_eq!(
        r(
            "#set($m = $input.path('$'))#set($d = $m.put('v', [1, 'x']))$m.v $m.keySet()",
            r#"{"a":1}"#
        ),
        "[1, x] [a, v]"
    );
}

#[test]
fn self_containing_values_fail_instead_of_overflowing() {
    let e = render_err("#set($l = [])#set($d = $l.add($l))$l", "");
    assert!(matches!(e, RenderError::ValueTooDeep { .. }), "{e}");
    let e = render_err(
        "#set($a = [])#set($d = $a.add($a))#set($b = [])#set($d = $b.add($b))#if($a == $b)x#end",
        "",
    );
    assert!(matches!(e, RenderError::ValueTooDeep { .. }), "{e}");
}

// ---- string methods ----------------------------------------------------------------------

#[test]
fn string_methods() {
    let src = "#set($s = '  Hello, World  ')#set($h = $s.trim())\
        $h.length()|$h.isEmpty()|$h.charAt(1)|$h.substring(7)|$h.substring(0, 5)|$h.indexOf('o')|$h.indexOf('o', 5)|\
        $h.lastIndexOf('o')|$h.contains('World')|$h.startsWith('Hell')|$h.startsWith('World', 7)|$h.endsWith('!')|\
        $h.toLowerCase()|$h.toUpperCase()|$h.replace('l', 'L')|$h.concat('!')|$h.equals('Hello, World')|\
        $h.equalsIgnoreCase('hello, world')|$h.compareTo('Hello')|$h.toString()|$h.hashCode()|$h.empty";
    assert_eq!(
        t(src),
        "12|false|e|World|Hello|4|8|8|true|true|true|false|hello, world|HELLO, WORLD|HeLLo, WorLd|Hello, World!|true|true|7|Hello, World|-505841268|false"
    );
}

#[test]
fn string_methods_count_utf16_units() {
    assert_eq!(
        t("#set($s = 'a😀b')$s.length() $s.indexOf('b') $s.substring(3) $s.charAt(0)"),
        "4 3 b a"
    );
}

#[test]
fn string_method_errors_are_javas() {
    let e = render_err("#set($s = 'abc')$s.substring(2, 9)", "");
    assert!(
        matches!(e, RenderError::Method { ref message, .. } if message.contains("StringIndexOutOfBounds")),
        "{e}"
    );
    let e = render_err("#set($s = 'abc')$s.contains($nope)", "");
    assert!(
        matches!(e, RenderError::Method { ref message, .. } if message.contains("NullPointer")),
        "{e}"
    );
    assert!(matches!(
        render_err("#set($s = 'abc')$s.charAt(3)", ""),
        RenderError::Method { .. }
    ));
}

#[test]
fn trim_is_javas_not_unicodes() {
    assert_eq!(t("#set($s = \"\u{a0}x\t\")[$s.trim()]"), "[\u{a0}x]");
}

#[test]
fn regex_methods_use_java_semantics() {
    assert_eq!(t("#set($s = 'a1b22c333')$s.replaceAll('[0-9]+', '#') $s.replaceFirst('\\d', 'X') $s.replaceAll('([a-z])(\\d)', '$2$1')"), "a#b#c# aXb22c333 1a2b23c33");
    assert_eq!(t("#set($s = \"line1\nline2\")$s.matches('.*') $s.matches('(?s).*') $s.matches('line\\d\\nline\\d') $s.matches('line1')"), "false true true false");
    assert_eq!(t("#set($s = 'a,b,,c,,')$s.split(',') $s.split(',').size() $s.split(',', -1).size() $s.split(',')[3]"), "[a, b, , c] 4 6 c");
    assert_eq!(
        t("#set($p = '\\d+')#set($s = 'x12y')$s.replaceAll($p, '') $s.matches(\"x$p\\w\")"),
        "xy true"
    );
}

#[test]
fn escape_idiom_from_the_aws_docs() {
    let body = r#"{"msg":"it's \"quoted\""}"#;
    assert_eq!(
        r(
            "$util.escapeJavaScript($input.path('$.msg')).replaceAll(\"\\\\'\",\"'\")",
            body
        ),
        r#"it's \"quoted\""#
    );
}

#[test]
fn bad_regex_is_a_render_error() {
    let e = render_err("#set($s = 'x')$s.matches('(')", "");
    assert!(
        matches!(e, RenderError::Method { ref message, .. } if message.contains("PatternSyntax")),
        "{e}"
    );
    let e = render_err("#set($s = 'x')$s.replaceAll('x', '$9')", "");
    assert!(matches!(e, RenderError::Method { .. }), "{e}");
}

// ---- list, map and number methods ------------------------------------------------------

#[test]
fn list_methods() {
    let src = "#set($l = ['a', 'b'])#set($d = $l.add('c'))$l.size()|$l.get(1)|$l.contains('c')|$l.indexOf('c')|\
        $l.isEmpty()|$l.remove(0)|$l|$l.remove('zz')|$l.set(0, 'B')|$l.add(0, 'z')$l|$l.subList(1, 3)|\
        $l.lastIndexOf('c')|$l.addAll(['x'])$l.size()|$l.add('y')|$l.clear()$l.isEmpty()";
    assert_eq!(
        t(src),
        "3|b|true|2|false|a|[b, c]|false|b|[z, B, c]|[B, c]|2|true4|true|true"
    );
}

#[test]
fn map_methods() {
    let src = "#set($m = {'a': 1})$m.put('b', 2)|$m.put('a', 3)|$m|$m.get('a')|$m.getOrDefault('z', 0)|$m.containsKey('b')|\
        $m.containsValue(2)|$m.keySet()|$m.values()|$m.size()|$m.isEmpty()|$m.remove('a')|$m|\
        #foreach($e in $m.entrySet())$e.key=$e.value,$e.getKey(),$e#end|$m.putIfAbsent('b', 9)|$m.putAll({'c': 3})$m";
    assert_eq!(
        t(src),
        "|1|{a=3, b=2}|3|0|true|true|[a, b]|[3, 2]|2|false|3|{b=2}|b=2,b,b=2|2|{b=2, c=3}"
    );
}

#[test]
fn number_and_boolean_methods() {
    assert_eq!(
        t("#set($i = 7)#set($f = 2.5)$i.toString()|$f.intValue()|$i.doubleValue()|$i.compareTo(9)|$i.equals(7)|$i.equals(7.0)|$f.longValue()|#set($b = true)$b.booleanValue()"),
        "7|2|7.0|-1|true|false|2|true"
    );
}

// ---- $input --------------------------------------------------------------------------------

#[test]
fn input_json_path_and_body() {
    let body = r#"{"a": {"b": "c", "n": 1.0}, "l": [1, 2]}"#;
    assert_eq!(
        r("$input.json('$')|$input.json('$.a.b')|$input.json('$.l[0]')|$input.json('$.l[*]')|$input.json('$..b')|$input.path('$.a.b')|$input.path('$.l').size()", body),
        r#"{"a":{"b":"c","n":1.0},"l":[1,2]}|"c"|1|[1,2]|["c"]|c|2"#
    );
    assert_eq!(r("$input.body", body), body);
}

#[test]
fn empty_body_is_an_empty_object() {
    assert_eq!(r("$input.body|$input.json('$')|$input.path('$')|$input.path('$').size()|$input.json('$.a')", ""), "{}|{}|{}|0|\"\"");
}

#[test]
fn missing_paths() {
    let body = r#"{"a": null}"#;
    assert_eq!(
        r("[$input.json('$.missing')][$input.path('$.missing')][$input.json('$.a')][$input.json('$.x.y.z')]#if($input.path('$.missing') == '')E#end#if(!$input.path('$.missing'))N#end", body),
        r#"[""][][null][""]EN"#
    );
}

#[test]
fn body_is_a_string_so_its_properties_are_empty() {
    assert_eq!(r("[$input.body.someKey]", r#"{"someKey":"v"}"#), "[]");
}

#[test]
fn invalid_json_body_is_reported_only_when_read_as_json() {
    assert_eq!(r("$input.body", "Action=Send&x=1"), "Action=Send&x=1");
    let e = render_err("$input.json('$')", "not json");
    assert!(matches!(e, RenderError::InvalidJsonBody { .. }), "{e}");
    let e = render_err("$input.path('$.a[?(@.b)]')", "{}");
    assert!(
        matches!(
            e,
            RenderError::JsonPath {
                line: 1,
                column: 8,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn input_params() {
    let mut c = ctx("");
    c.params.path.insert("id".into(), "p1".into());
    c.params.querystring.insert("id".into(), "q1".into());
    c.params.querystring.insert("q".into(), "q2".into());
    c.params
        .header
        .insert("Content-Type".into(), "application/json".into());
    let tpl = Template::compile(
        "$input.params('id')|$input.params('q')|$input.params('content-type')|[$input.params('none')]|$input.params()|$input.params().querystring.q|#foreach($h in $input.params().header.keySet())$h#end",
    )
    .expect("compiles");
    assert_eq!(
        tpl.render(&c).expect("renders"),
        "p1|q2|application/json|[]|{path={id=p1}, querystring={id=q1, q=q2}, header={Content-Type=application/json}}|q2|Content-Type"
    );
}

// ---- $util ---------------------------------------------------------------------------------

#[test]
fn util_functions() {
    assert_eq!(
        t("$util.urlEncode('a b&c={\"x\"}~*')|$util.urlDecode('a+b%26c')|$util.base64Encode('hello?')|$util.base64Decode('aGVsbG8/')|$util.base64Decode('aGk')"),
        "a+b%26c%3D%7B%22x%22%7D%7E*|a b&c|aGVsbG8/|hello?|hi"
    );
    assert_eq!(
        t("$util.escapeJavaScript(\"it's \"\"q\"\" /\")"),
        r#"it\'s \"q\" \/"#
    );
    assert_eq!(
        t("[$util.escapeJavaScript($nope)]$util.escapeJavaScript(12)"),
        "[]12"
    );
    assert!(matches!(
        render_err("$util.base64Decode('***')", ""),
        RenderError::Method { .. }
    ));
    assert!(matches!(
        render_err("$util.urlDecode('%')", ""),
        RenderError::Method { .. }
    ));
}

#[test]
fn util_parse_json_gives_navigable_objects() {
    let body = r#"{"errorMessage":"{\"key2\":{\"arr\":[1,2,3]},\"s\":\"x\"}"}"#;
    assert_eq!(
        r("#set($e = $util.parseJson($input.path('$.errorMessage')))$e.key2.arr[0] $e.s $e.key2 $util.parseJson('[1]').size() $util.parseJson('\"s\"')", body),
        r#"1 x {arr=[1,2,3]} 1 s"#
    );
    assert!(matches!(
        render_err("$util.parseJson('{')", ""),
        RenderError::Method { .. }
    ));
}

// ---- $context, overrides, $stageVariables ------------------------------------------------

fn gateway_ctx() -> Context {
    let mut c = ctx("{}");
    c.context = serde_json::from_str(
        r#"{"requestId":"r-1","stage":"dev","identity":{"sourceIp":"1.2.3.4"},"authorizer":{"claims":{"sub":"u1"}}}"#,
    )
    .expect("valid JSON");
    c.stage_variables.insert("table".into(), "T".into());
    c
}

#[test]
fn context_and_stage_variables() {
    let tpl = Template::compile(
        "$context.requestId $context.identity.sourceIp $context.authorizer.claims.sub [$context.nope] $stageVariables.table $stageVariables['table'] ${stageVariables['table']} [$stageVariables.none]",
    )
    .expect("compiles");
    assert_eq!(
        tpl.render(&gateway_ctx()).expect("renders"),
        "r-1 1.2.3.4 u1 [] T T T []"
    );
}

#[test]
fn overrides_are_read_back() {
    let tpl = Template::compile(
        "#set($context.requestOverride.header.X-Amz-Target = 'AWSEvents.PutEvents')\n\
         #set($context.requestOverride.header.multi = ['1', '2'])\n\
         #set($context.requestOverride.path.proxy = 'p')\n\
         #set($context.requestOverride.querystring['q s'] = 3)\n\
         #set($context.responseOverride.status = 418)\n\
         #set($context.responseOverride.header.Location = \"/x/$context.requestId\")\n\
         body",
    )
    .expect("compiles");
    let out = tpl
        .render_full(&gateway_ctx(), &Limits::default())
        .expect("renders");
    assert_eq!(out.body, "body");
    let o = out.overrides;
    assert_eq!(o.request.header["X-Amz-Target"], ["AWSEvents.PutEvents"]);
    assert_eq!(o.request.header["multi"], ["1", "2"]);
    assert_eq!(o.request.path["proxy"], ["p"]);
    assert_eq!(o.request.querystring["q s"], ["3"]);
    assert_eq!(o.response.status, Some(418));
    assert_eq!(o.response.header["Location"], "/x/r-1");
}

#[test]
fn invalid_status_overrides_are_ignored() {
    for (v, want) in [
        ("600", None),
        ("99", None),
        ("'abc'", None),
        ("'404'", Some(404)),
        ("4.5", None),
    ] {
        let tpl = Template::compile(&format!("#set($context.responseOverride.status = {v})"))
            .expect("compiles");
        let out = tpl
            .render_full(&gateway_ctx(), &Limits::default())
            .expect("renders");
        assert_eq!(out.overrides.response.status, want, "{v}");
    }
    let tpl = Template::compile("no overrides").expect("compiles");
    assert_eq!(
        tpl.render_full(&gateway_ctx(), &Limits::default())
            .expect("renders")
            .overrides,
        Overrides::default()
    );
}

#[test]
fn overrides_are_final() {
    let e = render_err(
        "#set($context.requestOverride.header.h = 'a')#set($context.requestOverride.header.h = 'b')",
        "",
    );
    assert_eq!(
        e,
        RenderError::OverrideSetTwice {
            parameter: "$context.requestOverride.header.h".into()
        }
    );
    let e = render_err(
        "#set($context.responseOverride.status = 400)#set($context.responseOverride.status = 401)",
        "",
    );
    assert!(matches!(e, RenderError::OverrideSetTwice { .. }));
}

#[test]
fn vars_are_top_level_variables() {
    let mut c = ctx("");
    c.vars.insert("name".into(), Value::from("v"));
    c.vars.insert(
        "list".into(),
        Value::List(vec![Value::Int(1), Value::from("a")]),
    );
    let tpl = Template::compile("$name $list $unused").expect("compiles");
    assert_eq!(tpl.render(&c).expect("renders"), r#"v [1,"a"] "#);
}

// ---- compile errors ------------------------------------------------------------------------

#[test]
fn compile_errors_carry_line_and_column() {
    let e = compile_err("ok\n#if($a)\nno end");
    assert_eq!((e.line, e.column), (2, 1));
    assert_eq!(e.kind, SyntaxError::Unclosed { directive: "#if" });
    let e = compile_err("a\nb #end");
    assert_eq!(
        (e.line, e.column, e.to_string().contains("#end")),
        (2, 3, true)
    );
    let e = compile_err("#set($a = )");
    assert_eq!((e.line, e.column), (1, 11));
    let e = compile_err("#foreach($x [1])#end");
    assert!(e.to_string().contains("expected in"), "{e}");
    let e = compile_err("x\n  #set($a = \"$b.c(\")");
    assert_eq!(e.line, 2, "{e}");
    assert_eq!(
        compile_err("#* open").kind,
        SyntaxError::Unterminated { what: "#* comment" }
    );
    assert_eq!(
        compile_err("#[[ open").kind,
        SyntaxError::Unterminated {
            what: "#[[ unparsed block"
        }
    );
    assert!(matches!(
        compile_err("#parse('x.vm')").kind,
        SyntaxError::Unsupported { .. }
    ));
    assert_eq!(
        compile_err("#set($a.b() = 1)").kind,
        SyntaxError::InvalidSetTarget
    );
    assert!(matches!(
        compile_err("#else").kind,
        SyntaxError::Unmatched { .. }
    ));
    assert!(matches!(
        compile_err("#if(true)#else#else#end").kind,
        SyntaxError::Unmatched { .. }
    ));
    assert!(matches!(
        compile_err("#foreach($i in [1])#else#end").kind,
        SyntaxError::Unmatched { .. }
    ));
    assert!(matches!(
        compile_err("${a").kind,
        SyntaxError::Expected { .. }
    ));
    assert!(matches!(
        compile_err("$a.b(").kind,
        SyntaxError::Expected { .. }
    ));
}

#[test]
fn nesting_is_limited_at_compile_time() {
    let deep = format!("#set($a = {}1{})", "(".repeat(200), ")".repeat(200));
    assert!(matches!(
        compile_err(&deep).kind,
        SyntaxError::TooDeep { .. }
    ));
    let deep = "#if(true)".repeat(100) + &"#end".repeat(100);
    assert!(matches!(
        compile_err(&deep).kind,
        SyntaxError::TooDeep { .. }
    ));
    let ok = "#if(true)".repeat(20) + "x" + &"#end".repeat(20);
    assert_eq!(t(&ok), "x");
}

// ---- limits --------------------------------------------------------------------------------

#[test]
fn output_and_work_are_bounded() {
    let e = render_err(
        "#set($s = 'xxxxxxxxxxxxxxxx')#foreach($i in [1..30])#set($s = \"$s$s\")#end",
        "",
    );
    assert!(matches!(e, RenderError::OutputTooLarge { .. }), "{e}");
    let e = render_err(
        "#foreach($a in [1..1000])#foreach($b in [1..1000])#foreach($c in [1..1000])#end#end#end",
        "",
    );
    assert!(matches!(e, RenderError::StepLimit { .. }), "{e}");
    let e = render_err("#set($l = [1..2000000000])", "");
    assert!(matches!(e, RenderError::StepLimit { .. }), "{e}");
    let e = render_err(
        "#set($l = [1])#foreach($i in [1..40])#set($d = $l.addAll($l))#end",
        "",
    );
    assert!(matches!(e, RenderError::StepLimit { .. }), "{e}");
    let lim = Limits {
        max_output_bytes: 10,
        ..Limits::default()
    };
    let tpl = Template::compile("#foreach($i in [1..20])$i#end").expect("compiles");
    assert!(matches!(
        tpl.render_full(&ctx(""), &lim),
        Err(RenderError::OutputTooLarge { limit: 10 })
    ));
}

#[test]
fn template_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Template>();
    assert_send_sync::<Context>();
}

// ---- calls written straight into the output ---------------------------------------------

/// `$util`/`$input` calls in template text are written without building a value first;
/// they must print exactly what the same call prints through `#set` and a variable, errors
/// included.
#[test]
fn calls_written_directly_print_like_their_values() {
    let body = r#"{"a":{"b":[1,2.5,"x\"y/é"]},"s":"it's <a/b> é😀 & +","n":null}"#;
    let mut full = ctx(body);
    full.params.path.insert("id".into(), "p1".into());
    full.params.querystring.insert("q".into(), "v w".into());
    full.params.header.insert("X-Trace".into(), "t1".into());
    let cases = [
        "$input.json('$')",
        "$input.json('$.a.b')",
        "$input.json('$.a.b[-1]')",
        "$input.json('$.a..b')",
        "$input.json('$.missing')",
        "$input.json('$.n')",
        "$input.json($path)",
        "$input.json(5)",
        "$input.body",
        "$input.getBody()",
        "$input.params('id')",
        "$input.params('q')",
        "$input.params('x-trace')",
        "$input.params('nope')",
        "$input.params(1)",
        "$util.escapeJavaScript($input.path('$.s'))",
        "$util.escapeJavaScript($input.path('$.a'))",
        "$util.escapeJavaScript($input.path('$.n'))",
        "$util.urlEncode($input.path('$.s'))",
        "$util.base64Encode($input.path('$.s'))",
        "$util.base64Encode(12)",
        "$util.urlDecode('a+b%21')",
        "$util.escapeJavaScript()",
        "$util.nope('x')",
    ];
    for (c, case) in [&full, &ctx("")]
        .into_iter()
        .flat_map(|c| cases.iter().map(move |case| (c, case)))
    {
        let direct = format!("#set($path = '$.a')[{case}]");
        let via_value = format!("#set($path = '$.a')#set($v = {case})[$!v]");
        let render = |src: &str| {
            let t = Template::compile(src).unwrap_or_else(|e| panic!("compile {src:?}: {e}"));
            t.render(c).map_err(|e| e.to_string())
        };
        assert_eq!(render(&direct), render(&via_value), "{case}");
    }
    for (body, case, want) in [
        ("", "$input.json('$')", "{}"),
        ("", "$input.body", "{}"),
        ("", "$input.getBody()", "{}"),
        (body, "$input.json('$.missing')", "\"\""),
        (
            body,
            "$util.escapeJavaScript($input.path('$.s'))",
            r"it\'s <a\/b> \u00E9\uD83D\uDE00 & +",
        ),
    ] {
        assert_eq!(r(case, body), want, "{case}");
    }
    let e = render_err("$input.json('$.a[?(@.b)]')", body);
    assert!(matches!(e, RenderError::JsonPath { .. }), "{e}");
    let e = render_err("$input.json($nothing)", body);
    assert!(matches!(e, RenderError::Method { .. }), "{e}");
}

/// Renders reuse per-thread buffers: a render after others (including one that failed
/// half-way, with its arena full) sees nothing of them.
#[test]
fn renders_share_no_state_through_reused_buffers() {
    let src = r#"#set($b = $input.path('$'))#set($d = $b.put('seen', 1))$b.keySet() $b.a.size() #foreach($i in $b.a)#set($d = $b.a.add($i))$i#end $b.a"#;
    let first = r(src, r#"{"a":[1,2],"k":"v"}"#);
    assert_eq!(first, "[a, k, seen] 2 12 [1,2,1,2]");
    let limits = Limits {
        max_output_bytes: 64,
        ..Limits::default()
    };
    let big =
        Template::compile("#foreach($i in [1..100])#set($m = {'x': $i})$m#end").expect("compiles");
    assert!(big.render_full(&ctx("{}"), &limits).is_err());
    for _ in 0..3 {
        assert_eq!(r(src, r#"{"a":[1,2],"k":"v"}"#), first);
        assert_eq!(r(src, r#"{"k":"w","a":[3]}"#), "[k, a, seen] 1 3 [3,3]");
    }
}
