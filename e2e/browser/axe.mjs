// Accessibility audit with axe-core (issue 18 item 6), shared by the browser tests. The library
// is evaluated in the page through the DevTools protocol, which the page's CSP and Trusted Types
// do not govern, so the page under test keeps its real policy.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// audit runs axe's WCAG 2.x A/AA rules (and its best practices) on the page and throws, listing
// each violation with the elements it names, if there is any.
export async function audit(page, what) {
  const violations = await page.evaluate(async (src) => {
    if (!window.axe) (0, eval)(src);
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n      ${v.nodes.slice(0, 5).map((n) => n.target.join(' ')).join('\n      ')}`);
  }, source);
  if (violations.length) throw new Error(`${what}: ${violations.length} accessibility violation(s):\n    ${violations.join('\n    ')}`);
}
