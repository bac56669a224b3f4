package interp

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"regexp"
	"sort"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/parser"
)

// Jinja's own filters that cannot build more than their input (center,
// indent, wordwrap and the like are left out: a template could make them
// allocate without bound).
var jinjaFilters = []string{
	"abs", "attr", "capitalize", "count", "d", "default", "dictsort", "first", "float", "int", "items",
	"join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace",
	"reverse", "round", "select", "selectattr", "sort", "sum", "title", "tojson", "trim", "truncate",
	"unique", "upper", "urlencode", "wordcount",
}

// Python string methods that cannot build more than their input.
var strMethodNames = []string{
	"capitalize", "casefold", "count", "endswith", "find", "isalnum", "isalpha", "isascii", "isdecimal",
	"isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "join", "lower", "lstrip",
	"partition", "removeprefix", "removesuffix", "rfind", "rpartition", "rsplit", "rstrip", "split",
	"splitlines", "startswith", "strip", "swapcase", "title", "upper",
}

func newEnvironment(e *Engine) *exec.Environment {
	filters := map[string]exec.FilterFunction{}
	for _, name := range jinjaFilters {
		if f, ok := builtins.Filters.Get(name); ok {
			filters[name] = f
		}
	}
	for name, f := range cdkFilters {
		filters[name] = f
	}
	strMethods := map[string]exec.Method[string]{}
	for _, name := range strMethodNames {
		if m, ok := builtins.Methods.Str.Get(name); ok {
			strMethods[name] = m
		}
	}
	strMethods["replace"] = strReplace
	ctx := exec.EmptyContext()
	for name, f := range e.macros() {
		ctx.Set(name, f)
	}
	ctx.Set("__lakeport_add", opAdd)
	ctx.Set("__lakeport_sub", opSub)
	ctx.Set("__lakeport_mul", opMul)
	ctx.Set("__lakeport_dict", newDict)
	ctx.Set("__lakeport_dictmethod", dictMethod)
	ctx.Set("__lakeport_lt", comparison(func(c int) bool { return c < 0 }))
	ctx.Set("__lakeport_le", comparison(func(c int) bool { return c <= 0 }))
	ctx.Set("__lakeport_gt", comparison(func(c int) bool { return c > 0 }))
	ctx.Set("__lakeport_ge", comparison(func(c int) bool { return c >= 0 }))
	return &exec.Environment{
		Context: ctx,
		Filters: exec.NewFilterSet(filters),
		Tests:   builtins.Tests,
		// Only {% if %} (and {% raw %}): no loops, macros, includes or
		// imports, so a template's running time follows its size.
		ControlStructures: exec.NewControlStructureSet(map[string]parser.ControlStructureParser{
			"if":  mustControl("if"),
			"raw": mustControl("raw"),
		}),
		Methods: exec.Methods{
			Bool:  builtins.Methods.Bool,
			Int:   builtins.Methods.Int,
			Float: builtins.Methods.Float,
			Str:   exec.NewMethodSet(strMethods),
			Dict:  builtins.Methods.Dict,
			List:  builtins.Methods.List,
		},
	}
}

func mustControl(name string) parser.ControlStructureParser {
	p, ok := builtins.ControlStructures.Get(name)
	if !ok {
		panic("interp: gonja has no control structure " + name)
	}
	return p
}

// FilterNames lists the filters a template may use.
func FilterNames() []string {
	names := append([]string(nil), jinjaFilters...)
	for n := range cdkFilters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func strReplace(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	if len(args.Args) < 2 || len(args.Args) > 3 {
		return nil, fmt.Errorf("replace() takes 2 or 3 arguments")
	}
	n := -1
	if len(args.Args) == 3 {
		n = args.Args[2].Integer()
	}
	old, repl := args.Args[0].String(), args.Args[1].String()
	if len(old) == 0 || len(repl) > len(old) {
		if count := strings.Count(self, old); count*(len(repl)-len(old))+len(self) > MaxRepeatBytes {
			return nil, fmt.Errorf("replace() would build more than %d bytes", MaxRepeatBytes)
		}
	}
	return strings.Replace(self, old, repl, n), nil
}

// cdkFilters are the filters the Airbyte CDK adds to Jinja.
var cdkFilters = map[string]exec.FilterFunction{
	"hash":                  filterHash,
	"base64encode":          filterB64Encode,
	"b64encode":             filterB64Encode,
	"base64decode":          filterB64Decode,
	"b64decode":             filterB64Decode,
	"base64binascii_decode": filterB64Encode, // the CDK's version encodes, despite its name
	"string":                filterString,
	"regex_search":          filterRegexSearch,
	"hmac":                  filterHMAC,
}

func errValue(format string, args ...any) *exec.Value {
	return exec.AsValue(fmt.Errorf(format, args...))
}

func filterHash(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	algo := "md5"
	if len(params.Args) > 0 {
		algo = params.Args[0].String()
	}
	var h hash.Hash
	switch algo {
	case "md5":
		h = md5.New()
	case "sha1":
		h = sha1.New()
	case "sha256":
		h = sha256.New()
	case "sha224":
		h = sha256.New224()
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	default:
		return errValue("hash: no hashing function named %s (md5, sha1, sha224, sha256, sha384, sha512)", algo)
	}
	h.Write([]byte(Str(fromValue(in))))
	if len(params.Args) > 1 && !params.Args[1].IsNil() {
		h.Write([]byte(params.Args[1].String()))
	}
	return exec.AsValue(hex.EncodeToString(h.Sum(nil)))
}

func filterHMAC(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if len(params.Args) < 1 {
		return errValue("hmac: needs a key")
	}
	if len(params.Args) > 1 && params.Args[1].String() != "sha256" {
		return errValue("hmac: hash type %q is not allowed (sha256)", params.Args[1].String())
	}
	m := hmac.New(sha256.New, []byte(params.Args[0].String()))
	m.Write([]byte(Str(fromValue(in))))
	return exec.AsValue(hex.EncodeToString(m.Sum(nil)))
}

func filterB64Encode(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	return exec.AsValue(base64.StdEncoding.EncodeToString([]byte(in.String())))
}

func filterB64Decode(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	b, err := base64.StdEncoding.DecodeString(in.String())
	if err != nil {
		return errValue("base64decode: %v", err)
	}
	return exec.AsValue(string(b))
}

// filterString is the CDK's: a string stays itself; anything else becomes
// its JSON in triple quotes, so the literal reading keeps it a string.
func filterString(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	v := fromValue(in)
	if s, ok := v.(string); ok {
		return exec.AsValue(s)
	}
	var b strings.Builder
	if err := pyJSON(&b, v); err != nil {
		return errValue("string: %v", err)
	}
	return exec.AsValue(`"""` + b.String() + `"""`)
}

func filterRegexSearch(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if len(params.Args) != 1 {
		return errValue("regex_search: needs one regular expression")
	}
	// Go's RE2 runs in linear time: a hostile pattern cannot hang a sync.
	re, err := regexp.Compile(params.Args[0].String())
	if err != nil {
		return errValue("regex_search: %v (lakeport uses Go's RE2 syntax: no lookaround or backreferences)", err)
	}
	m := re.FindStringSubmatch(in.String())
	if len(m) > 1 {
		return exec.AsValue(m[1])
	}
	return exec.AsValue("")
}
