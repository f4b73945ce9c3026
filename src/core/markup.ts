/**
 * Text for the diagrams and documents flowproof generates (Mermaid labels, Markdown): user text
 * (names, values, descriptions) escaped so it can never change the structure around it.
 */

/**
 * Quotes a label for Mermaid: a double quote or a line break (`\r` alone is one too) would end it,
 * and Mermaid renders HTML in labels, so `<` and `>` become its entity codes.
 */
export function mermaidLabel(value: string): string {
  const escaped = oneLine(value)
    .replace(/"/g, '#quot;')
    .replace(/</g, '#lt;')
    .replace(/>/g, '#gt;');
  return `"${escaped}"`;
}

/** Folds CommonMark's line endings (`\r\n`, `\r`, `\n`), any of which would start a new block. */
export function oneLine(value: string): string {
  return value.replace(/\r\n?|\n/g, ' ');
}

/**
 * User text (names, boundaries, descriptions) as Markdown inline text that cannot change the
 * document's structure: line breaks are folded, and every character that could open emphasis,
 * code, a link, raw HTML, an entity, a table cell or a heading's closing sequence is escaped. An
 * underscore inside a word cannot open emphasis, so `parse_request` is left as it is.
 */
export function inlineText(value: string): string {
  return oneLine(value).replace(/[\\`*_[\]#|~<>&]/g, (char, offset: number, whole: string) => {
    if (char === '<') return '&lt;';
    if (char === '>') return '&gt;';
    if (char === '&') return '&amp;';
    if (char === '_' && isWordChar(whole[offset - 1]) && isWordChar(whole[offset + 1])) return char;
    return `\\${char}`;
  });
}

function isWordChar(char: string | undefined): boolean {
  return char !== undefined && /[\p{L}\p{N}]/u.test(char);
}

/**
 * {@link inlineText} for a line of its own (a list item, a paragraph): leading blanks would make
 * indented code, and a leading `-`, `+`, `=` or `1.` a list, a rule or a heading underline.
 */
export function blockText(value: string): string {
  return inlineText(value)
    .replace(/^[ \t]+/, '')
    .replace(/^[-+=]/, '\\$&')
    .replace(/^(\d+)([.)])/, '$1\\$2');
}

/**
 * `value` in bold. Emphasis cannot open before or close after whitespace, so the text is trimmed;
 * a value that is only whitespace is shown as code instead.
 */
export function strong(value: string): string {
  const trimmed = inlineText(value).trim();
  return trimmed === '' ? codeSpan(value) : `**${trimmed}**`;
}

/**
 * An inline code span holding `value` verbatim (line breaks folded). CommonMark closes a span at
 * the first backtick run as long as its opening one, so the fence is one backtick longer than any
 * run inside. It is padded with a space each side when the value holds a backtick (one at either
 * end would merge with the fence) or starts and ends with a space (CommonMark strips one each
 * side); the padding is stripped when rendered.
 */
export function codeSpan(value: string): string {
  const content = oneLine(value);
  if (content === '') return '` `';
  const longest = Math.max(0, ...(content.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = longest > 0 || (content.startsWith(' ') && content.endsWith(' ')) ? ' ' : '';
  return `${fence}${pad}${content}${pad}${fence}`;
}
