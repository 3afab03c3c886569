// Places a handler's steps for the graph: a column per list, branches side by side under the
// step that holds them, a `for_each` drawn as a group around its body.
import type { Edge, Node } from '@xyflow/react';

import type { FlowStep } from './yaml';

export const NODE_W = 230;
export const NODE_H = 58;
const GAP_Y = 28;
const GAP_X = 36;
const PAD = 18;

export interface StepData extends Record<string, unknown> {
  step: FlowStep;
  problem?: string;
  selected?: boolean;
}

interface Placed {
  nodes: Node[];
  edges: Edge[];
  width: number;
  height: number;
}

function branchLabel(key: string): string {
  return key.startsWith('cases.') ? `case ${key.slice(6)}` : key.replace('_', ' ');
}

/** Lays out `steps` with their top-left at (x, y); positions are absolute. */
function list(steps: FlowStep[], x: number, y: number, problems: Map<string, string>): Placed {
  const nodes: Node[] = [];
  const edges: Edge[] = [];
  let cursor = y;
  let width = NODE_W;
  steps.forEach((step, i) => {
    const id = `step-${step.path}`;
    const isGroup = step.kind === 'for_each';
    const top = cursor;
    nodes.push({
      id,
      type: 'step',
      position: { x: isGroup ? x + PAD : x, y: isGroup ? top + PAD : top },
      data: { step, problem: problems.get(step.path) } satisfies StepData,
      width: NODE_W,
      height: NODE_H,
    });
    let below = (isGroup ? top + PAD : top) + NODE_H + GAP_Y;
    let branchX = isGroup ? x + PAD : x;
    let deepest = below;
    let right = (isGroup ? x + PAD : x) + NODE_W;
    for (const branch of step.branches) {
      const placed = list(branch.steps, branchX, below, problems);
      nodes.push(...placed.nodes);
      edges.push(...placed.edges);
      const first = branch.steps[0];
      if (first) {
        edges.push({
          id: `${id}->${branch.key}`,
          source: id,
          target: `step-${first.path}`,
          label: branchLabel(branch.key),
          className: `edge-${branch.key.split('.')[0]}`,
        });
      }
      deepest = Math.max(deepest, below + placed.height + GAP_Y);
      right = Math.max(right, branchX + placed.width);
      branchX += placed.width + GAP_X;
    }
    if (isGroup) {
      const groupBottom = deepest - GAP_Y + PAD;
      nodes.unshift({
        id: `group-${step.path}`,
        type: 'group',
        position: { x, y: top },
        data: {},
        width: right - x + PAD,
        height: groupBottom - top,
        selectable: false,
        draggable: false,
        focusable: false,
        zIndex: -1,
        className: 'loop-group',
        ariaLabel: `for_each loop ${step.path}`,
      });
      deepest = groupBottom + GAP_Y;
      right += PAD;
    }
    width = Math.max(width, right - x);
    const next = steps[i + 1];
    if (next) edges.push({ id: `${id}->next`, source: id, target: `step-${next.path}` });
    cursor = deepest;
  });
  return { nodes, edges, width, height: Math.max(0, cursor - y - GAP_Y) };
}

export function layout(steps: FlowStep[], problems: Map<string, string>): { nodes: Node[]; edges: Edge[] } {
  const { nodes, edges } = list(steps, 0, 0, problems);
  return { nodes, edges };
}
