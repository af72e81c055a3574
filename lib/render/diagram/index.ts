/** Pictures of the cluster: Mermaid and Graphviz DOT from one graph model. */
export * from "./graph";
export * from "./mermaid";
export * from "./dot";
