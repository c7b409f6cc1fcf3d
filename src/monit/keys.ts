// `nsup monit`'s keys: a pressed key (as ink parses it) → what to do. Pure, unit-tested.

/** What a key asks for. */
export type MonitAction =
  /** Move the selection by this many items (↑/↓, k/j, PgUp/PgDn, Home/End as ±Infinity). */
  | { type: 'move'; by: number }
  /** Rolling reload of the selected worker's app. */
  | { type: 'reload' }
  /** Scale the selected app by +1 or -1. */
  | { type: 'scale'; delta: 1 | -1 }
  | { type: 'quit' };

/** The subset of ink's Key that monit reads. */
export interface KeyFlags {
  upArrow?: boolean;
  downArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  ctrl?: boolean;
  escape?: boolean;
}

/** The action for a key, or null for a key monit does not use. */
export function actionOf(input: string, key: KeyFlags): MonitAction | null {
  if (key.upArrow) return { type: 'move', by: -1 };
  if (key.downArrow) return { type: 'move', by: 1 };
  if (key.pageUp) return { type: 'move', by: -10 };
  if (key.pageDown) return { type: 'move', by: 10 };
  if (key.home) return { type: 'move', by: -Infinity };
  if (key.end) return { type: 'move', by: Infinity };
  if (key.ctrl) return input === 'c' ? { type: 'quit' } : null;
  switch (input) {
    case 'k':
      return { type: 'move', by: -1 };
    case 'j':
      return { type: 'move', by: 1 };
    case 'r':
      return { type: 'reload' };
    // '=' is '+' without Shift on most layouts.
    case '+':
    case '=':
      return { type: 'scale', delta: 1 };
    case '-':
    case '_':
      return { type: 'scale', delta: -1 };
    case 'q':
      return { type: 'quit' };
    default:
      return null;
  }
}

/** The one-line key help of the title bar (arrows drawn only where the terminal speaks UTF-8). */
export function keyHelp(unicode: boolean): string {
  return `${unicode ? '↑↓' : 'up/down'}/jk select  r reload  +/- scale  q quit`;
}
