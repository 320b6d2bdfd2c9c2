// The PromQL editor: a textarea with completion of metric names,
// functions, label names and label values (read from the API as you type).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { AGGREGATIONS, contextAt, FUNCTIONS, KEYWORDS } from '../promql';

let metricNames: Promise<string[]> | null = null;

function allMetricNames(): Promise<string[]> {
  if (!metricNames) metricNames = api<string[]>('/api/v1/label/__name__/values').catch(() => []);
  return metricNames;
}

async function suggestions(text: string, pos: number): Promise<{ items: string[]; prefix: string; quoteValue: boolean }> {
  const ctx = contextAt(text, pos);
  const match = (m: string) => (m ? `?match[]=${encodeURIComponent(m)}` : '');
  switch (ctx.kind) {
    case 'name': {
      const names = await allMetricNames();
      const words = [...FUNCTIONS, ...AGGREGATIONS, ...KEYWORDS, ...names];
      return { items: filter(words, ctx.prefix), prefix: ctx.prefix, quoteValue: false };
    }
    case 'labelName': {
      const names = await api<string[]>(`/api/v1/labels${match(ctx.metric)}`).catch(() => []);
      return { items: filter(names.filter((n) => n !== '__name__'), ctx.prefix), prefix: ctx.prefix, quoteValue: false };
    }
    case 'labelValue': {
      const values = await api<string[]>(`/api/v1/label/${encodeURIComponent(ctx.label)}/values${match(ctx.metric)}`).catch(() => []);
      return { items: filter(values, ctx.prefix), prefix: ctx.prefix, quoteValue: true };
    }
    default:
      return { items: [], prefix: '', quoteValue: false };
  }
}

function filter(words: string[], prefix: string): string[] {
  const p = prefix.toLowerCase();
  const seen = new Set<string>();
  const starts: string[] = [];
  const contains: string[] = [];
  for (const w of words) {
    if (seen.has(w) || w === prefix) continue;
    seen.add(w);
    const l = w.toLowerCase();
    if (l.startsWith(p)) starts.push(w);
    else if (p.length >= 2 && l.includes(p)) contains.push(w);
  }
  return [...starts.sort(), ...contains.sort()].slice(0, 50);
}

export function Editor(props: { value: string; onChange: (v: string) => void; onRun: () => void; placeholder: string }) {
  const ta = useRef<HTMLTextAreaElement>(null);
  const [items, setItems] = useState<string[]>([]);
  const [prefix, setPrefix] = useState('');
  const [sel, setSel] = useState(0);
  const req = useRef(0);

  const refresh = (text: string, pos: number) => {
    const id = ++req.current;
    suggestions(text, pos).then((s) => {
      if (id !== req.current) return;
      setItems(s.items);
      setPrefix(s.prefix);
      setSel(0);
    });
  };

  useEffect(() => {
    const el = ta.current;
    if (el) el.style.height = `${Math.max(40, el.scrollHeight)}px`;
  }, [props.value]);

  const accept = (word: string) => {
    const el = ta.current!;
    const pos = el.selectionStart;
    const text = props.value;
    const next = text.slice(0, pos - prefix.length) + word + text.slice(pos);
    props.onChange(next);
    setItems([]);
    const cursor = pos - prefix.length + word.length;
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(cursor, cursor);
    });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      setItems([]);
      props.onRun();
      return;
    }
    if (items.length === 0) {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        props.onRun();
      }
      return;
    }
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setSel((s) => (s + 1) % items.length);
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setSel((s) => (s - 1 + items.length) % items.length);
    } else if (e.key === 'Tab' || e.key === 'Enter') {
      e.preventDefault();
      accept(items[sel]);
    } else if (e.key === 'Escape') {
      setItems([]);
    }
  };

  return (
    <div class="editor">
      <textarea
        ref={ta}
        data-testid="expr"
        rows={1}
        spellcheck={false}
        aria-label={props.placeholder}
        placeholder={props.placeholder}
        value={props.value}
        onInput={(e) => {
          const el = e.currentTarget;
          props.onChange(el.value);
          refresh(el.value, el.selectionStart);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setTimeout(() => setItems([]), 150)}
      />
      {items.length > 0 && (
        <ul class="completions" role="listbox" data-testid="completions">
          {items.map((w, i) => (
            <li
              role="option"
              aria-selected={i === sel}
              class={i === sel ? 'selected' : ''}
              onMouseDown={(e) => {
                e.preventDefault();
                accept(w);
              }}
            >
              {w}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
