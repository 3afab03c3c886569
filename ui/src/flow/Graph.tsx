import { Background, Controls, Handle, Position, ReactFlow, useReactFlow, type NodeProps } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useEffect, useMemo } from 'react';

import { layout, type StepData } from './layout';
import type { FlowStep } from './yaml';

function StepNode({ data }: NodeProps) {
  const { step, problem, selected } = data as StepData;
  const label = step.name ?? step.id;
  return (
    <div
      data-testid={`step-${step.path}`}
      className={`step-node kind-${step.kind}${problem ? ' has-problem' : ''}${selected ? ' is-selected' : ''}`}
      title={problem ?? step.summary}
    >
      <Handle type="target" position={Position.Top} />
      <span className="kind">{step.kind}</span>
      {label && <span className="label">{label}</span>}
      <span className="summary">{step.summary}</span>
      {problem && <span className="problem-mark" aria-label={`problem: ${problem}`}>!</span>}
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
}

const nodeTypes = { step: StepNode };

/** Fits the view again when steps come or go. */
function FitOnChange({ count }: { count: number }) {
  const flow = useReactFlow();
  useEffect(() => {
    const t = setTimeout(() => void flow.fitView({ maxZoom: 1, duration: 0 }), 0);
    return () => clearTimeout(t);
  }, [count, flow]);
  return null;
}

export function Graph({
  steps,
  problems,
  selected,
  onSelect,
}: {
  steps: FlowStep[];
  problems: Map<string, string>;
  selected?: string;
  onSelect: (path: string) => void;
}) {
  const { nodes, edges } = useMemo(() => {
    const placed = layout(steps, problems);
    for (const n of placed.nodes) {
      if (n.type === 'step') {
        const d = n.data as StepData;
        n.data = { ...d, selected: d.step.path === selected };
      }
    }
    return placed;
  }, [steps, problems, selected]);
  return (
    <div data-testid="flow-graph" className="graph" role="region" aria-label="Handler steps as a graph">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodeClick={(_, node) => node.type === 'step' && onSelect((node.data as StepData).step.path)}
        nodesDraggable={false}
        nodesConnectable={false}
        fitView
        fitViewOptions={{ maxZoom: 1 }}
        minZoom={0.2}
        proOptions={{ hideAttribution: true }}
      >
        <FitOnChange count={nodes.length} />
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
