package io.polyray.api;

/**
 * What {@link PolyRay#init()} connected to: the GCS address, the job, and the head's
 * dashboard URL (as Python's {@code polyray.init()} returns {@code dashboard_url}).
 */
public final class InitInfo {
  private final String address;
  private final String jobId;
  private final String dashboardUrl;

  /**
   * Made by {@link PolyRay#init()}.
   *
   * @param address {@code host:port} of the GCS
   * @param jobId the job's ID in hex
   * @param dashboardUrl the dashboard's URL, or "" when the head serves none
   */
  public InitInfo(String address, String jobId, String dashboardUrl) {
    this.address = address;
    this.jobId = jobId;
    this.dashboardUrl = dashboardUrl == null ? "" : dashboardUrl;
  }

  /**
   * The GCS this driver connected to.
   *
   * @return {@code host:port}
   */
  public String getAddress() {
    return address;
  }

  /**
   * The driver's job.
   *
   * @return the job ID in hex
   */
  public String getJobId() {
    return jobId;
  }

  /**
   * The head's dashboard ({@code http://host:port}; open it with the token {@code polyray
   * get-auth-token} prints), also printed on stderr at init.
   *
   * @return the URL, or "" when the head serves no dashboard
   */
  public String getDashboardUrl() {
    return dashboardUrl;
  }

  @Override
  public String toString() {
    return "InitInfo{address=" + address + ", jobId=" + jobId + ", dashboardUrl=" + dashboardUrl + "}";
  }
}
