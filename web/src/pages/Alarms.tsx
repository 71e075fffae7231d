import { AlarmList } from "../components/AlarmList";

export function AlarmsPage() {
  return (
    <section>
      <div class="page-head">
        <h1>Alarms</h1>
      </div>
      <AlarmList />
    </section>
  );
}
