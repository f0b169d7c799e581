// The shop's pages as served: each page in demo-site/site/ holds `<!-- pz:include NAME -->` where
// the site-wide parts go (demo-site/partials/NAME.html: the skip link, offer bar slot and header;
// the footer), and the header's nav marks the page's own section with aria-current="page".
// Used by demo-site/build.mjs and by the tests that read the pages.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PARTIALS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'partials');
const INCLUDE = /^([ \t]*)<!-- pz:include ([a-z-]+) -->$/gm;

/**
 * The page `html` at site path `url` (e.g. "/shop/apparel/merino-tee.html") with its includes
 * expanded (indented as the marker is). Throws on an unknown include.
 */
export function expandPage(html, url) {
  return html.replace(INCLUDE, (_, indent, name) => {
    const file = path.join(PARTIALS, name + '.html');
    if (!fs.existsSync(file)) throw new Error(`${url}: unknown include ${name}`);
    let part = fs
      .readFileSync(file, 'utf8')
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => (l ? indent + l : l))
      .join('\n');
    if (name === 'header') {
      // The nav link of the section this page is in (the longest href that prefixes the path).
      const links = [...part.matchAll(/<li><a href="(\/[^"]+)">/g)].map((m) => m[1]);
      const own = links.filter((h) => url.startsWith(h)).sort((a, b) => b.length - a.length)[0];
      if (own) {
        part = part.replace(`<li><a href="${own}">`, `<li><a href="${own}" aria-current="page">`);
      }
    }
    return part;
  });
}
