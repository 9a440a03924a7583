/**
 * Text from records (a workflow's error message, an output, a UUID) printed to a terminal: its
 * control characters are shown escaped (`\u001b`), never sent. An error message a client provoked
 * could otherwise carry ANSI/OSC sequences that rewrite the operator's screen, set the window
 * title or write the clipboard (OSC 52), or a line break that forges a line of the report.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

export function terminalSafe(text: string, options: { keepNewlines?: boolean } = {}): string {
  return text.replace(CONTROL, (c) => (options.keepNewlines && c === '\n' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}
