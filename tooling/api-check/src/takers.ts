/**
 * Which exports of a package take an options object, read from its source with the
 * TypeScript compiler: exported functions, class constructors, and the public methods and
 * static methods declared on exported classes.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** One exported callable with an options-object parameter. */
export interface OptionsTaker {
  /** Its public name: `conv2d`, `Conv2d` (the constructor), `Tensor.prototype.sum`, `Tensor.fromArray`. */
  name: string;
  kind: 'function' | 'constructor' | 'method' | 'static';
  /** Position of the options parameter. */
  paramIndex: number;
  /** The parameter's name in the source (`options`, `opts`, `config` …). */
  paramName: string;
  /** The options type's property names, sorted. */
  keys: string[];
  /** Those of `keys` that are optional, sorted. */
  optional: string[];
  /** Where it is declared, relative to the package directory. */
  file: string;
}

export interface TakersOptions {
  /** Entry files relative to the package directory (default `['src/index.ts']`). */
  entries?: readonly string[];
}

const OPTION_PARAM_NAMES = new Set(['options', 'opts', 'config']);

/** The project's compiler options from `<packageDir>/tsconfig.json` (or the defaults). */
function compilerOptions(packageDir: string): ts.CompilerOptions {
  const configPath = join(packageDir, 'tsconfig.json');
  if (!existsSync(configPath)) return { strict: true, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, target: ts.ScriptTarget.ES2022, skipLibCheck: true };
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (read.error) throw new Error(`api-check: cannot read ${configPath}: ${ts.flattenDiagnosticMessageText(read.error.messageText, '\n')}`);
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, dirname(configPath));
  return { ...parsed.options, noEmit: true, skipLibCheck: true };
}

const isPrivateName = (name: string): boolean => name.startsWith('_') || name.startsWith('#') || name.startsWith('__@');

function hasModifier(decl: ts.Declaration, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(decl) && (ts.getModifiers(decl) ?? []).some((m) => m.kind === kind);
}

/** Drop `undefined`/`null`/`void` from a union: `Opts | undefined` → `Opts`. */
function nonNullable(type: ts.Type): ts.Type[] {
  const parts = type.isUnion() ? type.types : [type];
  return parts.filter((t) => (t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.Void)) === 0);
}

function isClassInstance(type: ts.Type): boolean {
  const decls = type.getSymbol()?.getDeclarations() ?? [];
  return decls.some((d) => ts.isClassDeclaration(d) || ts.isClassExpression(d));
}

/** A plain object type: no primitives, arrays, functions, class instances or index signatures. */
function isPlainObjectType(program: ts.Program, checker: ts.TypeChecker, type: ts.Type): boolean {
  const parts = type.isIntersection() ? type.types : [type];
  for (const t of parts) {
    if ((t.flags & ts.TypeFlags.Object) === 0) return false;
    if (checker.isArrayType(t) || checker.isTupleType(t)) return false;
    if (t.getCallSignatures().length > 0 || t.getConstructSignatures().length > 0) return false;
    if (isClassInstance(t)) return false;
    const name = t.getSymbol()?.getName();
    if (name !== undefined && ['Map', 'Set', 'Promise', 'Date', 'RegExp', 'ArrayBuffer', 'Float32Array', 'Float64Array', 'Int32Array', 'Uint8Array'].includes(name)) return false;
  }
  if (checker.getIndexInfosOfType(type).length > 0) return false;
  // `Iterable<T>` has only `[Symbol.iterator]`; `ErrorOptions` only the standard library's `cause`
  const own = checker.getPropertiesOfType(type).filter((p) => !p.getName().startsWith('__@'));
  return own.length > 0 && !own.every((p) => (p.getDeclarations() ?? []).every((d) => program.isSourceFileDefaultLibrary(d.getSourceFile())));
}

/** The property names of an options parameter, or undefined when it is not one. */
function optionKeys(program: ts.Program, checker: ts.TypeChecker, param: ts.Symbol, at: ts.Node): { keys: string[]; optional: string[] } | undefined {
  const decl = param.valueDeclaration;
  if (decl === undefined || !ts.isParameter(decl) || decl.dotDotDotToken !== undefined) return undefined;
  const parts = nonNullable(checker.getTypeOfSymbolAtLocation(param, at));
  if (parts.length === 0 || !parts.every((t) => isPlainObjectType(program, checker, t))) return undefined;
  const keys = new Set<string>();
  const required = new Set<string>();
  let allOptional = true;
  for (const t of parts) {
    for (const p of checker.getPropertiesOfType(t)) {
      if (p.getName().startsWith('__@')) continue;
      keys.add(p.getName());
      if ((p.flags & ts.SymbolFlags.Optional) === 0) {
        allOptional = false;
        required.add(p.getName());
      }
    }
  }
  const typeNames = parts.flatMap((t) => [t.aliasSymbol?.getName(), t.getSymbol()?.getName()]);
  const typeText = decl.type !== undefined ? decl.type.getText() : '';
  const named = OPTION_PARAM_NAMES.has(param.getName()) || typeNames.some((n) => n !== undefined && /Options$/.test(n)) || /Options\b/.test(typeText);
  return named || allOptional ? { keys: [...keys].sort(), optional: [...keys].filter((k) => !required.has(k)).sort() } : undefined;
}

/** For each options parameter of any of `signatures`: its index, name and keys. */
function takersOf(program: ts.Program, checker: ts.TypeChecker, signatures: readonly ts.Signature[], at: ts.Node): { paramIndex: number; paramName: string; keys: string[]; optional: string[] }[] {
  const found = new Map<number, { paramIndex: number; paramName: string; keys: Set<string>; optional: Set<string> }>();
  for (const sig of signatures) {
    sig.getParameters().forEach((p, i) => {
      const got = optionKeys(program, checker, p, at);
      if (got === undefined) return;
      const entry = found.get(i) ?? { paramIndex: i, paramName: p.getName(), keys: new Set<string>(), optional: new Set<string>() };
      got.keys.forEach((k) => entry.keys.add(k));
      got.optional.forEach((k) => entry.optional.add(k));
      found.set(i, entry);
    });
  }
  return [...found.values()].map((e) => ({ paramIndex: e.paramIndex, paramName: e.paramName, keys: [...e.keys].sort(), optional: [...e.optional].sort() }));
}

/**
 * Every exported function, (non-abstract) class constructor and public (static) method
 * declared on an exported class, or function of an exported object, of the package at `packageDir` that takes an options object: a parameter
 * whose type is an object type (interface, type literal, intersection, possibly `| undefined`;
 * not a tensor, array, function or class instance, no index signature) and that is named
 * `options`/`opts`/`config`, or whose type's name ends in `Options`, or whose properties are
 * all optional. Re-exports are followed; one Program per call.
 */
export function optionsTakers(packageDir: string, opts: TakersOptions = {}): OptionsTaker[] {
  const dir = resolve(packageDir);
  const entries = (opts.entries ?? ['src/index.ts']).map((e) => join(dir, e));
  const program = ts.createProgram({ rootNames: entries, options: compilerOptions(dir) });
  const checker = program.getTypeChecker();
  const out = new Map<string, OptionsTaker>();
  const add = (t: OptionsTaker): void => {
    const key = `${t.name}#${t.paramIndex}`;
    const prev = out.get(key);
    if (prev === undefined) out.set(key, t);
    else {
      prev.keys = [...new Set([...prev.keys, ...t.keys])].sort();
      prev.optional = [...new Set([...prev.optional, ...t.optional])].sort();
    }
  };
  const fileOf = (d: ts.Node): string => relative(dir, d.getSourceFile().fileName);
  /** Declared in this package's own source (not a declaration file, not another package). */
  const ownSource = (d: ts.Node): boolean => {
    const file = d.getSourceFile();
    const rel = relative(dir, file.fileName);
    return !file.isDeclarationFile && !rel.startsWith('..') && !rel.split(/[\\/]/).includes('node_modules');
  };

  for (const entry of entries) {
    const source = program.getSourceFile(entry);
    if (source === undefined) throw new Error(`api-check: no entry file ${entry}`);
    const moduleSymbol = checker.getSymbolAtLocation(source);
    if (moduleSymbol === undefined) continue;
    const exports = checker.getExportsOfModule(moduleSymbol).map((exported) => ({
      name: exported.getName(),
      symbol: exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported,
    }));
    const classOf = (symbol: ts.Symbol | undefined): ts.ClassDeclaration | undefined => symbol?.getDeclarations()?.find((d): d is ts.ClassDeclaration => ts.isClassDeclaration(d));
    const exportedClasses = new Set(exports.map((e) => classOf(e.symbol)).filter((c) => c !== undefined));
    /**
     * The class's own members, then those of this package's base classes that are not
     * exported themselves (listed here, not there). A base class from another package (nn's
     * Module under onnx's OnnxModel) is that package's to check.
     */
    const members = (classDecl: ts.ClassDeclaration): ts.ClassElement[] => {
      const out: ts.ClassElement[] = [...classDecl.members];
      const seen = new Set(out.map((m) => m.name?.getText()));
      for (let c: ts.ClassDeclaration | undefined = classDecl; c !== undefined; ) {
        const ext = c.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0];
        let base = ext !== undefined ? checker.getSymbolAtLocation(ext.expression) : undefined;
        if (base !== undefined && base.flags & ts.SymbolFlags.Alias) base = checker.getAliasedSymbol(base);
        c = classOf(base);
        if (c === undefined || exportedClasses.has(c) || !ownSource(c)) break;
        for (const m of c.members) {
          if (seen.has(m.name?.getText())) continue;
          seen.add(m.name?.getText());
          out.push(m);
        }
      }
      return out;
    };
    for (const { name, symbol } of exports) {
      const decl = symbol.valueDeclaration ?? symbol.getDeclarations()?.[0];
      if (decl === undefined || (symbol.flags & ts.SymbolFlags.Value) === 0) continue;
      const type = checker.getTypeOfSymbolAtLocation(symbol, decl);
      if (symbol.flags & ts.SymbolFlags.Class) {
        const classDecl = classOf(symbol);
        // an abstract class is never constructed as such: its subclasses pass their options up and check them
        const abstract = classDecl !== undefined && hasModifier(classDecl, ts.SyntaxKind.AbstractKeyword);
        if (!abstract) for (const t of takersOf(program, checker, type.getConstructSignatures(), decl)) add({ name, kind: 'constructor', ...t, file: fileOf(decl) });
        if (classDecl === undefined) continue;
        for (const member of members(classDecl)) {
          if (!ts.isMethodDeclaration(member) || member.name === undefined || !ts.isIdentifier(member.name)) continue;
          if (hasModifier(member, ts.SyntaxKind.PrivateKeyword) || hasModifier(member, ts.SyntaxKind.ProtectedKeyword)) continue;
          const methodName = member.name.text;
          if (isPrivateName(methodName)) continue;
          const isStatic = hasModifier(member, ts.SyntaxKind.StaticKeyword);
          const memberSymbol = checker.getSymbolAtLocation(member.name);
          if (memberSymbol === undefined) continue;
          const memberType = checker.getTypeOfSymbolAtLocation(memberSymbol, member);
          for (const t of takersOf(program, checker, memberType.getCallSignatures(), member)) {
            add({ name: isStatic ? `${name}.${methodName}` : `${name}.prototype.${methodName}`, kind: isStatic ? 'static' : 'method', ...t, file: fileOf(member) });
          }
        }
      } else {
        const sigs = type.getCallSignatures();
        for (const t of takersOf(program, checker, sigs, decl)) add({ name, kind: 'function', ...t, file: fileOf(decl) });
        // a namespace-like object of functions (`init.kaimingUniform`): one level down
        if (sigs.length === 0 && symbol.flags & ts.SymbolFlags.Variable) {
          for (const prop of checker.getPropertiesOfType(type)) {
            if (isPrivateName(prop.getName())) continue;
            const at = prop.valueDeclaration ?? decl;
            const propSigs = checker.getTypeOfSymbolAtLocation(prop, at).getCallSignatures();
            for (const t of takersOf(program, checker, propSigs, at)) add({ name: `${name}.${prop.getName()}`, kind: 'function', ...t, file: fileOf(at) });
          }
        }
      }
    }
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.paramIndex - b.paramIndex));
}
