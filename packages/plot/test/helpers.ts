// Shared by the tests: compile with a logger that keeps every message, parse the SVG with a
// strict XML parser, and pick the marks out of the SVG by Vega's markup.
import { DOMParser, onWarningStopParsing, type Element, type Node } from '@xmldom/xmldom';
import { Warn, parse, View, type LoggerInterface } from 'vega';
import { compile } from 'vega-lite';
import { expect } from 'vitest';
import { toSvg, type TopLevelSpec } from '../src/node.js';

/** A vega-util logger that records warnings and errors instead of printing them. */
function recorder(messages: string[]): LoggerInterface {
  const logger: LoggerInterface = {
    level: ((..._: unknown[]) => logger) as LoggerInterface['level'],
    error: (...a: readonly unknown[]) => (messages.push(`error: ${a.join(' ')}`), logger),
    warn: (...a: readonly unknown[]) => (messages.push(`warn: ${a.join(' ')}`), logger),
    info: () => logger,
    debug: () => logger,
  };
  return logger;
}

/** Vega-Lite's compile messages plus the Vega runtime's warnings while rendering. */
export async function diagnostics(spec: TopLevelSpec): Promise<string[]> {
  const messages: string[] = [];
  const vg = compile(spec, { logger: recorder(messages) }).spec;
  const view = new View(parse(vg), { renderer: 'none', logger: recorder(messages), logLevel: Warn });
  await view.runAsync();
  view.finalize();
  return messages;
}

/** The chart compiles and renders without a warning; returns its SVG parsed by a strict XML parser. */
export async function render(spec: TopLevelSpec): Promise<{ svg: string; doc: Element }> {
  expect(await diagnostics(spec)).toEqual([]);
  const svg = await toSvg(spec);
  return { svg, doc: parseXml(svg) };
}

/** Parse XML, throwing on any warning or error. */
export function parseXml(text: string): Element {
  const doc = new DOMParser({ onError: onWarningStopParsing }).parseFromString(text, 'text/xml');
  if (!doc.documentElement) throw new Error('no root element');
  return doc.documentElement;
}

function elements(node: Node): Element[] {
  const out: Element[] = [];
  const visit = (n: Node) => {
    for (let c = n.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === 1) {
        out.push(c as Element);
        visit(c);
      }
    }
  };
  visit(node);
  return out;
}

/**
 * The drawn items of every mark of Vega type `type` ('symbol' for points, 'line', 'rect', 'text',
 * 'rule'), in drawing order: Vega draws each item (`role="graphics-symbol"`) inside a group of
 * class `mark-<type> role-mark`; axes, legends and titles have other roles.
 */
export function marks(doc: Element, type: string): Element[] {
  return elements(doc).filter((e) => {
    if (e.getAttribute('role') !== 'graphics-symbol') return false;
    const group = e.parentNode as Element | null;
    const cls = group?.getAttribute?.('class') ?? '';
    return cls.split(' ').includes(`mark-${type}`) && cls.split(' ').includes('role-mark');
  });
}

/** The vertices of an SVG path made of M/L commands (Vega's line marks), in pixels. */
export function vertices(d: string): [number, number][] {
  const out: [number, number][] = [];
  for (const m of d.matchAll(/[ML]\s*(-?[\d.e+-]+)[ ,](-?[\d.e+-]+)/g)) out.push([Number(m[1]), Number(m[2])]);
  return out;
}

/** The translation of an element's `transform="translate(x,y)"`. */
export function translation(e: Element): [number, number] {
  const m = /translate\(\s*(-?[\d.e+-]+)[ ,]\s*(-?[\d.e+-]+)\)/.exec(e.getAttribute('transform') ?? '');
  if (!m) throw new Error(`no translate() on <${e.tagName}>`);
  return [Number(m[1]), Number(m[2])];
}

/** A spec's layers' inline data, by layer index. */
export function layerValues(spec: TopLevelSpec, index: number): Record<string, unknown>[] {
  const layer = (spec as { layer: { data: { values: Record<string, unknown>[] } }[] }).layer[index];
  return layer.data.values;
}
