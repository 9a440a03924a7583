import type { ComponentChildren } from 'preact';

/** A modal that asks before a change: nothing happens until the operator presses the red button. */
export function ConfirmDialog(props: {
  title: string;
  children?: ComponentChildren;
  confirmLabel: string;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <div class="backdrop" onClick={props.onCancel}>
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="dialog-title" onClick={(event) => event.stopPropagation()}>
        <h2 id="dialog-title">{props.title}</h2>
        <div class="dialog-body">{props.children}</div>
        <div class="dialog-actions">
          <button type="button" onClick={props.onCancel} disabled={props.busy}>
            Keep it as it is
          </button>
          <button type="button" class="danger" data-testid="confirm" onClick={props.onConfirm} disabled={props.busy}>
            {props.busy ? 'Working…' : props.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
