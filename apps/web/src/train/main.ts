// The Train page: for now, what this browser offers to train on (training itself waits for
// @ml/train and @ml/data in the browser).
import { describeBackends } from '../backends.js';

const list = document.getElementById('backends')!;
void describeBackends().then((found) => {
  list.replaceChildren(
    ...found.map((b) => {
      const item = document.createElement('li');
      item.dataset.backend = b.name;
      item.textContent = `${b.label}: ${b.available ? 'available' : 'not available'}${b.detail ? ` (${b.detail})` : ''}`;
      return item;
    }),
  );
});
