/** Sample documents made in the browser, so the demo works without a file at hand. */

export interface Sample {
  id: string;
  label: string;
  description: string;
  make(): File;
}

const NOTES = `# Field notes: signalhub

signalhub lets Temporal workflows tell the people who started them what is
happening, live. Every status, progress, completion and error signal is stored
in a per-user inbox, so nothing is missed while a tab is closed.

## How a document is processed

1. The text is extracted from the uploaded file.
2. The text is split into overlapping chunks.
3. Each chunk gets a vector embedding.
4. Chunks and embeddings are stored for search.

## Delivery

Each signal carries a per-user sequence number. A browser that reconnects asks
for everything after the last number it saw, and the server replays what was
missed before going live again.
`;

export const SAMPLES: Sample[] = [
  {
    id: "notes",
    label: "Field notes (Markdown)",
    description: "a short Markdown document: completes",
    make: () => new File([NOTES.repeat(4)], "field-notes.md", { type: "text/markdown" }),
  },
  {
    id: "blank",
    label: "Blank page (text)",
    description: "a file with no text in it: fails with EMPTY_DOCUMENT",
    make: () => new File(["   \n\n\t  \n"], "blank-page.txt", { type: "text/plain" }),
  },
];
