// The regression playground: the MSE surface of a line fit as a contour, and gradient
// descent, SGD and mini-batch descent drawn on it one update per frame.
import { drawContour, toCanvas, type View } from './contour.js';
import { closedForm, Descent, largestStableRate, makeLine, mse, START } from './descent.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const canvas = $<HTMLCanvasElement>('surface');
const ctx = canvas.getContext('2d')!;
const lrInput = $<HTMLInputElement>('lr');
const batchInput = $<HTMLInputElement>('batch');
const stepsInput = $<HTMLInputElement>('steps');
const runButton = $<HTMLButtonElement>('run');
const stepButton = $<HTMLButtonElement>('step');
const resetButton = $<HTMLButtonElement>('reset');
const diverged = $<HTMLParagraphElement>('diverged');
const tbody = $<HTMLTableElement>('state').tBodies[0];

const data = makeLine(64, 1);
const best = closedForm(data);
const stableRate = largestStableRate(data);
const view: View = { w: [-5, 6], b: [-4, 7], left: 44, top: 8, size: 420 };
const COLORS: Record<string, string> = { 'gradient descent': '#c1121f', SGD: '#2a9d8f', 'mini-batch': '#7b2cbf' };

const stable = $('stable');
Object.assign(stable.dataset, { rate: String(stableRate), w: String(best.w), b: String(best.b) });
stable.textContent =
  `Full-batch gradient descent converges on these points for learning rates below 2/λmax = ${stableRate.toFixed(3)} ` +
  `(λmax: the largest eigenvalue of the loss's Hessian); the least-squares fit is w = ${best.w.toFixed(3)}, b = ${best.b.toFixed(3)}.`;

// the contour is drawn once, then copied under the paths each frame
const background = document.createElement('canvas');
background.width = canvas.width;
background.height = canvas.height;
const bg = background.getContext('2d')!;
bg.fillStyle = '#fff';
bg.fillRect(0, 0, background.width, background.height);
drawContour(bg, view, (w, b) => mse(data, w, b));

let descents: Descent[] = [];
let frame = 0;

function reset(): void {
  cancelAnimationFrame(frame);
  frame = 0;
  const batch = Number(batchInput.value);
  descents = [new Descent('gradient descent', data, data.xs.length, 1), new Descent('SGD', data, 1, 2), new Descent('mini-batch', data, batch, 3)];
  diverged.hidden = true;
  diverged.textContent = '';
  document.body.dataset.state = 'ready';
  runButton.textContent = 'Run';
  draw();
}

function draw(): void {
  ctx.drawImage(background, 0, 0);
  ctx.save();
  ctx.beginPath();
  ctx.rect(view.left, view.top, view.size, view.size);
  ctx.clip();
  const [mx, my] = toCanvas(view, best.w, best.b);
  ctx.fillStyle = '#000';
  ctx.fillText('★', mx - 5, my + 5);
  for (const d of descents) {
    ctx.strokeStyle = COLORS[d.name];
    ctx.fillStyle = COLORS[d.name];
    ctx.lineWidth = 2;
    ctx.beginPath();
    d.path.forEach(([w, b], i) => {
      // a diverged path leaves the plot: clamp far points so the canvas keeps finite numbers
      const [x, y] = toCanvas(view, Math.max(-1e4, Math.min(1e4, w)), Math.max(-1e4, Math.min(1e4, b)));
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
    const [x, y] = toCanvas(view, ...(d.path[d.path.length - 1] as [number, number]));
    if (Number.isFinite(x) && Number.isFinite(y)) {
      ctx.beginPath();
      ctx.arc(x, y, 4, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  ctx.restore();
  const [sx, sy] = toCanvas(view, ...START);
  ctx.fillStyle = '#000';
  ctx.fillRect(sx - 3, sy - 3, 6, 6);
  const fmt = (v: number) => (Number.isFinite(v) ? (Math.abs(v) < 1e4 ? v.toFixed(3) : v.toExponential(2)) : String(v));
  tbody.replaceChildren(
    ...descents.map((d) => {
      const row = document.createElement('tr');
      row.dataset.method = d.name;
      row.dataset.w = String(d.w);
      row.dataset.b = String(d.b);
      row.dataset.loss = String(d.loss);
      const name = document.createElement('td');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = COLORS[d.name];
      name.append(swatch, d.name === 'mini-batch' ? `mini-batch (${d.batch})` : d.name);
      row.append(name, ...[String(d.updates), fmt(d.w), fmt(d.b), d.divergedAt === undefined ? fmt(d.loss) : 'diverged'].map((t) => Object.assign(document.createElement('td'), { textContent: t })));
      return row;
    }),
  );
}

/** One update of every method still converging; reports the first divergence. */
function stepAll(): void {
  const lr = Number(lrInput.value);
  for (const d of descents) {
    if (!d.step(lr) && d.divergedAt === d.updates && diverged.hidden) {
      diverged.hidden = false;
      diverged.textContent =
        `${d.name} diverged at step ${d.divergedAt}: the loss left every bound (it grew past 10⁶ times its start). ` +
        `Learning rate ${lr.toFixed(2)} is too large: full-batch descent converges here only below 2/λmax = ${stableRate.toFixed(3)}` +
        `${d.batch < data.xs.length ? ', and steps on a few points need a smaller rate still' : ''}. Lower the rate and press Reset.`;
    }
  }
}

function run(): void {
  if (frame !== 0) {
    cancelAnimationFrame(frame);
    frame = 0;
    runButton.textContent = 'Run';
    document.body.dataset.state = 'paused';
    return;
  }
  const steps = Number(stepsInput.value);
  if (descents[0].updates >= steps || descents.every((d) => d.divergedAt !== undefined)) reset();
  runButton.textContent = 'Pause';
  document.body.dataset.state = 'running';
  const tick = () => {
    stepAll();
    draw();
    if (descents[0].updates < steps && descents.some((d) => d.divergedAt === undefined)) {
      frame = requestAnimationFrame(tick);
    } else {
      frame = 0;
      runButton.textContent = 'Run';
      document.body.dataset.state = 'done';
    }
  };
  frame = requestAnimationFrame(tick);
}

const show = (input: HTMLInputElement, digits: number) => {
  const out = document.querySelector<HTMLOutputElement>(`output[for="${input.id}"]`)!;
  out.textContent = Number(input.value).toFixed(digits);
};
lrInput.addEventListener('input', () => show(lrInput, 2));
stepsInput.addEventListener('input', () => show(stepsInput, 0));
batchInput.addEventListener('input', () => {
  show(batchInput, 0);
  reset();
});
runButton.addEventListener('click', run);
stepButton.addEventListener('click', () => {
  if (frame !== 0) return;
  stepAll();
  draw();
});
resetButton.addEventListener('click', reset);
show(lrInput, 2);
show(batchInput, 0);
show(stepsInput, 0);
reset();
