/**
 * A strict syntax check for the Mermaid flowchart subset the diagram renderer writes (no Mermaid
 * CLI offline): header, node declarations, subgraph/end nesting, labelled edges, identifiers
 * (Mermaid keywords such as `end` break a flowchart), label quoting. Returns the problems found.
 */
const ID = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set([
  "end",
  "subgraph",
  "graph",
  "flowchart",
  "style",
  "class",
  "classDef",
  "click",
  "default",
  "linkStyle",
]);
/** A quoted label: no raw double quote inside; entity codes (`#quot;`) allowed. */
const LABEL = '"([^"]*)"';
const NODE = new RegExp(`^([^\\s\\[\\(]+)(?:\\[${LABEL}\\]|\\(\\[${LABEL}\\]\\))$`);
const SUBGRAPH = new RegExp(`^subgraph ([^\\s\\[]+)\\[${LABEL}\\]$`);
const EDGE = new RegExp(`^(\\S+) -->\\|${LABEL}\\| (\\S+)$`);

function checkLabel(label: string, where: string, problems: string[]): void {
  if (/[<>]/.test(label.replace(/<br\/>/g, ""))) problems.push(`${where}: raw < or > in label "${label}"`);
  if (/#(?![a-z0-9]+;)/.test(label)) problems.push(`${where}: bare # in label "${label}"`);
}

function checkId(id: string, where: string, problems: string[]): void {
  if (!ID.test(id)) problems.push(`${where}: identifier "${id}" is not [A-Za-z_][A-Za-z0-9_]*`);
  if (RESERVED.has(id)) problems.push(`${where}: identifier "${id}" is a Mermaid keyword`);
}

export function checkMermaidFlowchart(text: string): string[] {
  const problems: string[] = [];
  const declared = new Set<string>();
  const subgraphs: string[] = [];
  const edges: [string, string, string][] = [];
  let header = false;
  if (!text.endsWith("\n")) problems.push("the text does not end with a newline");
  text
    .split("\n")
    .slice(0, -1)
    .forEach((raw, i) => {
      const where = `line ${i + 1}`;
      const line = raw.trim();
      if (line === "" || line.startsWith("%%")) return;
      if (!header) {
        if (!/^flowchart (LR|RL|TB|TD|BT)$/.test(line))
          problems.push(`${where}: expected "flowchart LR" first, got "${line}"`);
        header = true;
        return;
      }
      let m: RegExpExecArray | null;
      if ((m = SUBGRAPH.exec(line))) {
        checkId(m[1]!, where, problems);
        checkLabel(m[2]!, where, problems);
        if (declared.has(m[1]!)) problems.push(`${where}: "${m[1]}" declared twice`);
        declared.add(m[1]!);
        subgraphs.push(m[1]!);
      } else if (line === "end") {
        if (subgraphs.pop() === undefined) problems.push(`${where}: "end" without subgraph`);
      } else if ((m = EDGE.exec(line))) {
        checkId(m[1]!, where, problems);
        checkId(m[3]!, where, problems);
        checkLabel(m[2]!, where, problems);
        edges.push([m[1]!, m[3]!, where]);
      } else if ((m = NODE.exec(line))) {
        checkId(m[1]!, where, problems);
        checkLabel(m[2] ?? m[3]!, where, problems);
        if (declared.has(m[1]!)) problems.push(`${where}: "${m[1]}" declared twice`);
        declared.add(m[1]!);
      } else {
        problems.push(`${where}: not a flowchart statement: "${line}"`);
      }
    });
  if (!header) problems.push("no flowchart header");
  if (subgraphs.length > 0) problems.push(`subgraph ${subgraphs.join(", ")} not closed with "end"`);
  for (const [from, to, where] of edges) {
    for (const id of [from, to])
      if (!declared.has(id)) problems.push(`${where}: edge endpoint "${id}" is not declared`);
  }
  return problems;
}
