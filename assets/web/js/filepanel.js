// The files part of the chat panel: a "Send file" button, and a row per transfer (ours
// and theirs) with name, size, a progress bar, Cancel while it runs, and a download link
// when a file has arrived whole. `transfers` (by id: {name, size, bytes, state, mine,
// url, reason}) is exposed as `window.peercall.files` for automation.

const $ = (id) => document.getElementById(id);

/** Every transfer shown, by id. */
export const transfers = {};

/** `n` bytes for people: B, KiB, MiB. */
export function sizeText(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** Wires the button; `call()` gives the running call (or null). */
export function initFilePanel(call, showError) {
  $('send-file').addEventListener('click', () => {
    if (!call()) {
      showError('join a call to send a file');
      return;
    }
    $('file-input').click();
  });
  $('file-input').addEventListener('change', () => {
    for (const file of $('file-input').files) {
      const why = call()?.sendFile(file);
      if (why) showError(why);
    }
    $('file-input').value = '';
  });
}

/** Shows what a transfer did (the call's `onfile`). */
export function showFileEvent(event, call) {
  let t = transfers[event.id];
  if (!t) {
    t = { name: event.name ?? 'file', size: event.size ?? 0, bytes: 0, mine: event.mine, state: 'waiting' };
    transfers[event.id] = t;
  }
  if (event.kind === 'offered') t.state = 'waiting for the other side';
  if (event.kind === 'incoming') t.state = 'receiving';
  if (event.kind === 'progress') {
    t.bytes = event.bytes;
    t.state = t.mine ? 'sending' : 'receiving';
  }
  if (event.kind === 'sent') {
    t.bytes = t.size;
    t.state = 'sent';
  }
  if (event.kind === 'received') {
    t.bytes = t.size;
    t.state = 'received';
    t.url = event.url;
  }
  if (event.kind === 'failed') {
    t.state = 'failed';
    t.reason = event.reason;
  }
  render(event.id, t, call);
}

function render(id, t, call) {
  let li = document.querySelector(`#file-list li[data-id="${id}"]`);
  if (!li) {
    li = document.createElement('li');
    li.dataset.id = id;
    $('file-list').append(li);
  }
  li.replaceChildren();
  li.className = t.mine ? 'mine' : 'theirs';
  const name = document.createElement(t.url ? 'a' : 'span');
  name.className = 'name';
  name.textContent = `${t.mine ? '↑' : '↓'} ${t.name}`;
  if (t.url) {
    name.href = t.url;
    name.download = t.name;
  }
  const info = document.createElement('span');
  info.className = 'info';
  info.textContent = `${sizeText(t.size)} · ${t.state}${t.reason ? `: ${t.reason}` : ''}`;
  li.append(name, info);
  const running = !['sent', 'received', 'failed'].includes(t.state);
  if (running) {
    const bar = document.createElement('progress');
    bar.max = t.size || 1;
    bar.value = t.bytes;
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.textContent = 'Cancel';
    cancel.addEventListener('click', () => call()?.cancelFile(id));
    li.append(bar, cancel);
  }
}
