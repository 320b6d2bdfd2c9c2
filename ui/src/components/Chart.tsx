// A time-series chart over a range-query result, drawn with uPlot.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { MatrixSeries, seriesName } from '../api';
import { useSignal } from '../state';
import { cssVar, theme } from '../theme';
import { formatValue } from '../dash/units';

const PALETTE = ['#3b82f6', '#ef4444', '#10b981', '#f59e0b', '#8b5cf6', '#ec4899', '#14b8a6', '#f97316', '#6366f1', '#84cc16'];

export function color(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/** Aligns series on the union of their timestamps (gaps are null). */
export function align(series: MatrixSeries[], stacked: boolean): uPlot.AlignedData {
  const times = new Set<number>();
  series.forEach((s) => s.values.forEach(([t]) => times.add(t)));
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const cols: (number | null)[][] = series.map((s) => {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    s.values.forEach(([t, v]) => {
      const f = Number(v);
      col[index.get(t)!] = Number.isFinite(f) ? f : null;
    });
    return col;
  });
  if (stacked) {
    for (let i = 1; i < cols.length; i++) {
      for (let j = 0; j < xs.length; j++) {
        const below = cols[i - 1][j];
        const own = cols[i][j];
        if (own !== null && below !== null) cols[i][j] = own + below;
      }
    }
  }
  return [xs, ...cols] as uPlot.AlignedData;
}

export interface ChartProps {
  series: MatrixSeries[];
  stacked: boolean;
  /** The queried time range in seconds: the x axis spans it even when the
   *  data covers only part of it. */
  start: number;
  end: number;
  height?: number;
  legend?: (m: MatrixSeries) => string;
  /** Grafana unit id and decimals for the y axis and the legend values. */
  unit?: string;
  decimals?: number;
  min?: number;
  max?: number;
  /** Hide the legend (small dashboard panels with many series). */
  hideLegend?: boolean;
}

export function Chart(props: ChartProps) {
  const el = useRef<HTMLDivElement>(null);
  const th = useSignal(theme);
  useEffect(() => {
    if (!el.current) return;
    const width = el.current.clientWidth || 800;
    const axis = cssVar('--fg-muted') || '#888';
    const grid = { stroke: cssVar('--border') || '#ddd', width: 1 };
    const opts: uPlot.Options = {
      width,
      height: props.height ?? 320,
      legend: { show: !props.hideLegend && props.series.length <= 20 },
      scales: {
        x: { time: true, range: [props.start, props.end] },
        y: {
          range: (_u: uPlot, dmin: number, dmax: number): uPlot.Range.MinMax => {
            const lo = props.min ?? (dmin === dmax ? dmin - 1 : dmin);
            const hi = props.max ?? (dmin === dmax ? dmax + 1 : dmax);
            return [lo, hi];
          },
        },
      },
      axes: [
        { stroke: axis, grid, ticks: grid },
        {
          stroke: axis,
          grid,
          ticks: grid,
          size: 80,
          values: props.unit ? (_u: uPlot, splits: number[]) => splits.map((v) => formatValue(v, props.unit, props.decimals)) : undefined,
        },
      ],
      series: [
        {},
        ...props.series.map((s, i) => ({
          label: props.legend ? props.legend(s) : seriesName(s.metric),
          stroke: color(i),
          fill: props.stacked ? color(i) + '55' : undefined,
          width: 1.5,
          spanGaps: false,
          // Sparse series (a few samples so far) show their points.
          points: { show: s.values.length < 60, size: 5 },
          value: props.unit ? (_u: uPlot, v: number | null) => (v == null ? '—' : formatValue(v, props.unit, props.decimals)) : undefined,
        })),
      ],
    };
    const plot = new uPlot(opts, align(props.series, props.stacked), el.current);
    el.current.dataset.drawn = 'true';
    // The observer also fires once right away: redraw only on a real change.
    let drawnWidth = width;
    const resize = new ResizeObserver(() => {
      const w = el.current?.clientWidth;
      if (!w || w === drawnWidth) return;
      drawnWidth = w;
      plot.setSize({ width: w, height: props.height ?? 320 });
    });
    resize.observe(el.current);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [props.series, props.stacked, props.height, props.start, props.end, props.unit, props.min, props.max, th]);
  return <div class="chart" ref={el} data-testid="chart" data-series={props.series.length} />;
}
