package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.api.placement.PlacementGroup;
import io.polyray.api.spi.CallOptions;
import io.polyray.runtime.proto.LabelSelector;
import io.polyray.runtime.proto.SchedulingKind;
import io.polyray.runtime.proto.SchedulingStrategy;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.ref.Hex;
import java.util.List;
import java.util.Map;

/**
 * The protocol form of a call's scheduling options (as python/polyray/util/scheduling_strategies.py):
 * DEFAULT, SPREAD, NODE_AFFINITY (node id, soft) or PLACEMENT_GROUP (group, bundle, capture).
 * With no strategy of its own, a task or actor started inside a task or actor whose placement
 * group captures child tasks runs in that group (any bundle).
 */
final class SchedulingStrategies {
  private SchedulingStrategies() {}

  /**
   * The strategy of a call.
   *
   * @param o the call's options
   * @param parent the spec of the running task (an actor's method: its actor's creation), or null
   * @return the protocol form
   */
  static SchedulingStrategy of(CallOptions o, TaskSpec parent) {
    boolean labelled = !o.getLabelSelector().isEmpty() || !o.getFallbackStrategy().isEmpty();
    if (labelled && (o.getScheduling() == CallOptions.Scheduling.NODE_AFFINITY
        || o.getScheduling() == CallOptions.Scheduling.PLACEMENT_GROUP)) {
      throw new IllegalArgumentException("setLabelSelector / setFallbackStrategy go with the default or SPREAD "
          + "strategy only, not with a node affinity or a placement group");
    }
    SchedulingStrategy s = ofKind(o, parent);
    if (!labelled) {
      return s;
    }
    if (s.getKind() == SchedulingKind.SCHEDULING_PLACEMENT_GROUP) {
      throw new IllegalArgumentException("setLabelSelector / setFallbackStrategy inside a placement group that "
          + "captures child tasks: give the call a strategy of its own (setSpread) or no selector");
    }
    SchedulingStrategy.Builder b = s.toBuilder().putAllLabelSelector(o.getLabelSelector());
    for (Map<String, String> f : o.getFallbackStrategy()) {
      b.addFallback(LabelSelector.newBuilder().putAllSelector(f));
    }
    return b.build();
  }

  private static SchedulingStrategy ofKind(CallOptions o, TaskSpec parent) {
    switch (o.getScheduling()) {
      case SPREAD:
        return SchedulingStrategy.newBuilder().setKind(SchedulingKind.SCHEDULING_SPREAD).build();
      case NODE_AFFINITY:
        return SchedulingStrategy.newBuilder().setKind(SchedulingKind.SCHEDULING_NODE_AFFINITY)
            .setNodeId(ByteString.copyFrom(Hex.parse(o.getNodeId()))).setSoft(o.isSoft()).build();
      case PLACEMENT_GROUP:
        return SchedulingStrategy.newBuilder().setKind(SchedulingKind.SCHEDULING_PLACEMENT_GROUP)
            .setPlacementGroupId(ByteString.copyFrom(Hex.parse(o.getPlacementGroup().getId())))
            .setBundleIndex(o.getBundleIndex()).setCaptureChildTasks(o.isCaptureChildTasks()).build();
      default:
        if (parent != null && parent.getScheduling().getKind() == SchedulingKind.SCHEDULING_PLACEMENT_GROUP
            && parent.getScheduling().getCaptureChildTasks()) {
          return parent.getScheduling().toBuilder().setBundleIndex(-1).build();
        }
        return SchedulingStrategy.newBuilder().setKind(SchedulingKind.SCHEDULING_DEFAULT).build();
    }
  }

  /**
   * The spec whose strategy children inherit: the running task's; an actor method's actor.
   *
   * @param running the running task's spec (null: a driver)
   * @param actorCreation the actor's creation spec in an actor's process, else null
   * @return the parent, or null
   */
  static TaskSpec parent(TaskSpec running, TaskSpec actorCreation) {
    if (running == null || running.getType() == TaskType.ACTOR_TASK) {
      return actorCreation;
    }
    return running;
  }

  /**
   * Refuses at the call a request no bundle of its placement group can hold (as Ray does).
   *
   * @param o the options
   * @param resources the request as it will travel
   * @param what "task f" or "actor A", for the error
   * @throws IllegalArgumentException naming the bundle and the request
   */
  static void checkFitsBundle(CallOptions o, Map<String, Double> resources, String what) {
    PlacementGroup pg = o.getPlacementGroup();
    if (o.getScheduling() != CallOptions.Scheduling.PLACEMENT_GROUP || pg == null) {
      return;
    }
    int index = o.getBundleIndex();
    List<Map<String, Double>> candidates = index == -1 ? pg.getBundles() : List.of(pg.getBundles().get(index));
    for (Map<String, Double> b : candidates) {
      boolean fits = true;
      for (Map.Entry<String, Double> r : resources.entrySet()) {
        if (b.getOrDefault(r.getKey(), 0.0) < r.getValue()) {
          fits = false;
          break;
        }
      }
      if (fits) {
        return;
      }
    }
    throw new IllegalArgumentException(what + " cannot be scheduled in its placement group: its resource request "
        + resources + " fits " + (index == -1 ? "none of its bundles" : "not bundle " + index) + " (" + candidates
        + ")");
  }
}
